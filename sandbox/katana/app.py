"""The Katana simulator's Flask app: the request pipeline and error handlers.

Pipeline for every non-admin request (``before_request``/``after_request``):
auth (401) -> rate limit per key (429) -> injected latency / random 429 / random 500 -> route.
Every such response, errors included, carries the ``X-Ratelimit-*`` headers and is logged.
Admin routes (``/_admin/...``) skip all of it but must come from loopback.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from sandbox.katana import admin, api, webhook_routes
from sandbox.katana.encoding import iso
from sandbox.katana.simulator import Simulator
from sandbox.katana.web import error_response


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _is_loopback(addr: str | None) -> bool:
    return bool(addr) and (addr.startswith("127.") or addr in ("::1", "::ffff:127.0.0.1"))  # type: ignore[union-attr]


def create_app(sim: Simulator) -> Flask:
    app = Flask("katana-sim")

    @app.before_request
    def gate() -> Response | None:
        # Webhook hrefs point at the address clients reach this simulator by.
        sim.webhooks.public_url = request.host_url.rstrip("/")
        if request.path.startswith("/_admin"):
            g.admin = True
            if not _is_loopback(request.remote_addr):
                return Response("admin is loopback-only\n", status=403)
            return None
        g.admin = False
        key = _bearer()
        g.key = key
        valid = key is not None and key in sim.cfg.api_keys
        # Invalid keys get buckets of their own, so a bad client cannot drain a good key.
        g.decision = sim.limiter.hit(key if key is not None and valid else f"invalid:{key or ''}")
        if not valid:
            return error_response(401)
        if not g.decision.allowed:
            g.retry_after = g.decision.retry_after
            return error_response(429)
        faults = sim.faults.current
        if faults.latency_ms or faults.jitter_ms:
            delay = faults.latency_ms + sim.rng.uniform(-faults.jitter_ms, faults.jitter_ms)
            time.sleep(max(0.0, delay) / 1000)
        if faults.random_429 and sim.rng.random() < faults.random_429:
            g.retry_after = sim.rng.randint(1, 2)
            return error_response(429)
        if faults.random_500 and sim.rng.random() < faults.random_500:
            return error_response(500)
        return None

    @app.after_request
    def stamp(response: Response) -> Response:
        if g.get("admin", True):
            return response
        decision = g.get("decision")
        if decision is not None:
            reset = decision.reset_at if sim.cfg.reset_in_seconds else decision.reset_at * 1000
            response.headers["X-Ratelimit-Limit"] = str(decision.limit)
            response.headers["X-Ratelimit-Remaining"] = str(decision.remaining)
            response.headers["X-Ratelimit-Reset"] = str(int(reset + 0.999))
        if g.get("retry_after") is not None:
            response.headers["Retry-After"] = str(g.retry_after)
        sim.log.add(
            request.method,
            request.path,
            request.query_string.decode("latin-1"),
            g.get("key"),
            response.status_code,
            iso(datetime.now(UTC)),
        )
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if g.get("admin"):
            return Response(f"{exc.code} {exc.name}\n", status=exc.code or 500)
        # A method the path lacks (PUT anywhere, POST /locations, ...) is a missing path to Katana.
        return error_response(500 if (exc.code or 500) >= 500 else 404)

    @app.errorhandler(Exception)
    def crash(exc: Exception) -> Response:
        app.logger.exception("katana simulator crashed")
        return error_response(500)

    webhook_routes.register(app, sim)
    api.register(app, sim)
    admin.register(app, sim)
    return app
