"""JSON routes for failed items: retry a run's failures as a new linked run, resolve one item."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from jobs.enqueue import AlreadyQueued
from jobs.retry import NoSuchRun, NothingToRetry, resolve_item, retry_failed
from syncsvc.domain.synctypes import SYNC_TYPE_NAMES as SYNC_TYPES
from syncsvc.store import failures
from syncsvc.web.dashboard import job_url
from syncsvc.web.service import Service

bp = Blueprint("retry_api", __name__, url_prefix="/api")


def _svc() -> Service:
    svc: Service = current_app.extensions["syncsvc"]
    return svc


def _fail(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"success": False, "error": message, **extra}), status


@bp.post("/sync/history/<run_id>/retry")
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
        "statusUrl": f"{svc.settings.public_url}/api/sync/job/{job_id}",
    }
    return jsonify(body), 202


@bp.post("/sync/history/<run_id>/resolve")
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


def openapi_paths(json_body: Any, error: Any, common: dict[str, Any]) -> dict[str, Any]:
    run_id = {"name": "runId", "in": "path", "required": True, "schema": {"type": "string"}}
    retried = {
        "type": "object",
        "properties": {
            "success": {"const": True},
            "jobId": {"type": "string"},
            "runId": {"type": "string"},
            "parentRunId": {"type": "string"},
            "syncType": {"enum": list(SYNC_TYPES)},
            "keys": {"type": "array", "items": {"type": "string"}},
            "dashboardUrl": {"type": "string"},
            "statusUrl": {"type": "string"},
        },
    }
    resolve_body = {
        "type": "object",
        "required": ["key", "reason"],
        "properties": {"key": {"type": "string", "maxLength": 500}, "reason": {"type": "string", "maxLength": 500}},
        "additionalProperties": False,
    }
    return {
        "/api/sync/history/{runId}/retry": {
            "post": {
                "summary": "Retry the failed items of a run as a new run of just those keys (linked both ways)",
                "parameters": [run_id],
                "responses": {
                    "202": json_body(retried, "The retry run is queued"),
                    "404": error("Unknown run"),
                    "409": error("Nothing left to retry, or a run of this type is queued or running"),
                    "401": common["401"],
                    "503": common["503"],
                },
            }
        },
        "/api/sync/history/{runId}/resolve": {
            "post": {
                "summary": "Resolve a failed item with a reason: it is no longer retried and shows as resolved",
                "parameters": [run_id],
                "requestBody": {"required": True, "content": {"application/json": {"schema": resolve_body}}},
                "responses": {
                    "200": json_body({"type": "object"}, "The item is resolved"),
                    "400": error("Missing key or reason"),
                    "404": error("Unknown run or item"),
                    "401": common["401"],
                },
            }
        },
    }
