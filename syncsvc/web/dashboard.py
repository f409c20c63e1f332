"""Mount rq-dashboard at ``/rq`` inside our app (auth is added by :mod:`syncsvc.web.auth`).

The dashboard lists every queue and worker on its Redis (``Queue.all``, ``Worker.all``); other
deployments sharing the Redis are not ours to show or act on, so its lists are narrowed to this
deployment's queue and the workers that listen on it (the routes that name a queue or a job of
another deployment answer 404 in :mod:`syncsvc.web.dashboard_guard`).
"""

from __future__ import annotations

from typing import Any

import rq_dashboard
import rq_dashboard.web
from flask import Flask, current_app, has_request_context, request
from rq import Queue, Worker
from rq.worker import BaseWorker

from syncsvc.settings import Settings
from syncsvc.store import serializer
from syncsvc.store.serializer import PlainPickleSerializer

URL_PREFIX = "/rq"


def mount(app: Flask, redis_url: str, settings: Settings) -> None:
    # Only RQ_DASHBOARD_* keys: a plain REDIS_URL key would trigger its legacy-config warning.
    app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url
    app.config["RQ_DASHBOARD_POLL_INTERVAL"] = settings.dashboard_poll_ms
    # The dashboard decodes job data with a module-global serializer (and some routes with RQ's
    # default one): both read plain values only, so a planted pickle cannot run code in the web.
    serializer.install()
    rq_dashboard.web.config.serializer = PlainPickleSerializer
    rq_dashboard.web.setup_rq_connection(app)
    rq_dashboard.web.Queue = OwnQueue
    rq_dashboard.web.Worker = OwnWorker
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=URL_PREFIX)


def own_queue_name() -> str:
    return str(current_app.extensions["syncsvc"].settings.queue_name)


class OwnQueue(Queue):
    """``Queue`` as the dashboard module sees it: ``all()`` is this deployment's queue only."""

    @classmethod
    def all(cls, *args: Any, **kwargs: Any) -> list[Queue]:
        return [q for q in Queue.all(*args, **kwargs) if q.name == own_queue_name()]


class OwnWorker(Worker):
    """``Worker`` as the dashboard module sees it: ``all()`` is the workers on our queue only."""

    @classmethod
    def all(cls, *args: Any, **kwargs: Any) -> list[BaseWorker]:
        return [w for w in Worker.all(*args, **kwargs) if own_queue_name() in w.queue_names()]


def public_base(settings: Settings) -> str:
    """Where users reach this app: SYNC_PUBLIC_URL when set (behind a proxy), else the scheme,
    host and port the current request came in on, so links work wherever the app listens."""
    if settings.public_url:
        return settings.public_url
    if has_request_context():
        return request.host_url.rstrip("/")
    return f"http://{settings.bind}"


def job_url(settings: Settings, job_id: str) -> str:
    """The dashboard page of one job (instance 0 = our only Redis)."""
    return f"{public_base(settings)}{URL_PREFIX}/0/view/job/{job_id}"
