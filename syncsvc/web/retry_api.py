"""JSON routes for failed items: retry a run's failures as a new linked run, resolve one item."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from jobs.enqueue import AlreadyQueued
from jobs.retry import NoSuchRun, NothingToRetry, resolve_item, retry_failed
from syncsvc.store import failures
from syncsvc.web.dashboard import job_url, public_base
from syncsvc.web.schemas import ResolveRequest, ResolveResponse, RetryResponse
from syncsvc.web.service import Service
from syncsvc.web.spec import AUTH, REDIS, documented

bp = Blueprint("retry_api", __name__, url_prefix="/api")


def _svc() -> Service:
    svc: Service = current_app.extensions["syncsvc"]
    return svc


def _fail(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"success": False, "error": message, **extra}), status


@bp.post("/sync/history/<run_id>/retry")
@documented(
    "Retry the failed items of a run as a new run of just those keys (linked both ways)",
    {
        202: (RetryResponse, "The retry run is queued"),
        404: "Unknown run",
        409: "Nothing left to retry, or a run of this type is queued or running",
        **AUTH,
        **REDIS,
    },
)
def retry(run_id: str) -> tuple[Response, int]:
    svc = _svc()
    try:
        job_id, req = retry_failed(svc.redis, svc.settings, svc.history(), run_id, svc.job_function)
    except NoSuchRun as exc:
        return _fail(404, str(exc))
    except NothingToRetry as exc:
        return _fail(409, str(exc))
    except AlreadyQueued as exc:
        return _fail(409, f"{exc}; retry when it has finished", jobId=exc.job_id)
    body = {
        "success": True,
        "message": f"Retrying {len(req.keys or ())} failed item(s) of run {run_id}",
        "jobId": job_id,
        "runId": job_id,
        "parentRunId": run_id,
        "syncType": req.sync_type,
        "keys": list(req.keys or ()),
        "dashboardUrl": job_url(svc.settings, job_id),
        "statusUrl": f"{public_base(svc.settings)}/api/sync/job/{job_id}",
    }
    return jsonify(body), 202


@bp.post("/sync/history/<run_id>/resolve")
@documented(
    "Resolve a failed item with a reason: it is no longer retried and shows as resolved",
    {200: (ResolveResponse, "The item is resolved"), 400: "Missing key or reason", 404: "Unknown run or item", **AUTH},
    body=ResolveRequest,
)
def resolve(run_id: str) -> tuple[Response, int]:
    """Body ``{"key": "variant:12", "reason": "discontinued, not sold"}``."""
    try:
        body = json.loads(request.get_data(cache=False) or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _fail(400, 'body must be a JSON object such as {"key": "variant:12", "reason": "..."}')
    key, reason = body.get("key"), body.get("reason")
    if not isinstance(key, str) or not key.strip() or len(key) > 500:
        return _fail(400, "key must be the item's key (text, at most 500 characters)")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        return _fail(400, "reason must say why the item needs no retry (text, at most 500 characters)")
    hist = _svc().history()
    run = hist.get_run(run_id)
    if run is None:
        return _fail(404, f"no run {run_id[:128]!r} in the history")
    if not failures.has_item(hist, run_id, key.strip()):
        return _fail(404, f"run {run_id} has no item {key.strip()[:128]!r}")
    svc = _svc()
    row = resolve_item(svc.redis, svc.settings, hist, run, key.strip(), reason.strip())
    return jsonify({"success": True, "resolution": {"syncType": row["sync_type"], "key": row["item_key"],
                                                    "reason": row["reason"], "resolvedAt": row["resolved_at"],
                                                    "runId": run_id}}), 200  # fmt: skip
