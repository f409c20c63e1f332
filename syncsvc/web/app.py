"""The Flask application factory: JSON API, console, health probes and rq-dashboard, behind one token."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask, Response, abort, jsonify, request
from rq.exceptions import NoSuchJobError
from werkzeug.exceptions import HTTPException

from jobs.enqueue import JOB_FUNCTION
from syncsvc.defaults import MAX_BODY_BYTES
from syncsvc.domain.errors import HistoryUnavailable
from syncsvc.logsetup import install_mask
from syncsvc.settings import Settings, from_env, secrets_of
from syncsvc.store.redis_conn import api_client, redact_url, require_authentication, resolve_redis
from syncsvc.web import auth, console, dashboard, dashboard_guard, metrics_view, security
from syncsvc.web.api import bp as api_bp
from syncsvc.web.health import readiness
from syncsvc.web.pause_api import bp as pause_api_bp
from syncsvc.web.reconcile_api import bp as reconcile_api_bp
from syncsvc.web.retry_api import bp as retry_api_bp
from syncsvc.web.schemas import Alive, Ready
from syncsvc.web.service import Service
from syncsvc.web.spec import documented
from syncsvc.web.webhooks import bp as webhooks_bp

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` may set ``SYNC_JOB_FUNCTION`` (a stand-in job) and
    ``REDIS_URL_RESOLVED`` (skip Redis discovery), plus any Flask config key."""
    settings = settings or from_env()
    test_config = dict(test_config or {})
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # Tests and the demo test run stand-in jobs in real gunicorn/rq processes.
    job_function = test_config.pop("SYNC_JOB_FUNCTION", None) or os.environ.get("SYNCSVC_JOB_FUNCTION") or JOB_FUNCTION
    redis_url = test_config.pop("REDIS_URL_RESOLVED", None) or _redis_url(settings)
    require_authentication(redis_url)  # a Redis beyond loopback must want a password
    app.config.update(test_config)

    install_mask(secrets_of(settings))
    svc = Service(settings=settings, redis_url=redis_url, redis=api_client(redis_url), job_function=job_function)
    app.extensions["syncsvc"] = svc

    auth.install(app, settings.sync_api_token)
    security.install(app, settings.public_url)

    @app.before_request
    def only_dashboard_instance_zero() -> None:
        # rq-dashboard raises LookupError (a 500) for instance numbers it does not have.
        if request.blueprint == "rq_dashboard" and (request.view_args or {}).get("instance_number", 0) != 0:
            abort(404)

    app.register_blueprint(api_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(retry_api_bp)
    app.register_blueprint(reconcile_api_bp)
    app.register_blueprint(pause_api_bp)
    console.install(app, settings.public_url)
    dashboard_guard.install(app)
    dashboard.mount(app, redis_url, settings)
    _health_routes(app, svc)
    metrics_view.install(app, svc.redis, settings)
    _error_handlers(app, svc)
    return app


def _redis_url(settings: Settings) -> str:
    # The web app never starts a Redis itself (it would die with a gunicorn worker); the CLI
    # does that and passes REDIS_URL down. Without one, answer 503 naming the problem.
    try:
        return resolve_redis(settings, allow_start=False).url
    except Exception:
        return "redis://127.0.0.1:6379/0"


def _health_routes(app: Flask, svc: Service) -> None:
    @app.get("/healthz")
    @documented("Liveness: the process answers (no auth, no dependencies)", {200: (Alive, "Alive")}, public=True)
    def healthz() -> tuple[Response, int]:
        return jsonify({"status": "ok"}), 200

    @app.get("/readyz")
    @documented(
        "Readiness: Redis, history DB, Katana and Luca reachable (no auth)",
        {200: (Ready, "Every check passed"), 503: (Ready, "At least one check failed")},
        public=True,
    )
    def readyz() -> tuple[Response, int]:
        ready, checks = readiness(svc.redis, svc.redis_url, svc.settings, svc.history)
        return jsonify({"ready": ready, "checks": checks}), 200 if ready else 503


def _json_error(status: int, message: str) -> Response:
    resp = jsonify({"success": False, "error": message})
    resp.status_code = status
    return resp


def _error_handlers(app: Flask, svc: Service) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        messages = {
            404: f"no route {request.method} {request.path[:200]}",
            405: f"method {request.method} not allowed on {request.path[:200]}",
            413: f"request body too large (limit {MAX_BODY_BYTES} bytes)",
        }
        resp = _json_error(status, messages.get(status, exc.description or exc.name))
        if status == 405:
            for name, value in exc.get_headers():
                if name.lower() == "allow":
                    resp.headers["Allow"] = value
        return resp

    @app.errorhandler(NoSuchJobError)
    def no_such_job(exc: NoSuchJobError) -> Response:
        return _json_error(404, "no such job (unknown, or its result expired)")

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def redis_down(exc: redis.RedisError) -> Response:
        reason = str(exc).replace(svc.redis_url, redact_url(svc.redis_url))
        return _json_error(503, f"Redis is unavailable at {redact_url(svc.redis_url)}: {reason[:200]}")

    @app.errorhandler(HistoryUnavailable)
    def history_down(exc: HistoryUnavailable) -> Response:
        return _json_error(503, f"the run history is unavailable: {str(exc)[:300]}")

    @app.errorhandler(Exception)
    def internal(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _json_error(500, f"internal error ({type(exc).__name__}); see the server log")
