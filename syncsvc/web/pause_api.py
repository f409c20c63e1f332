"""Paused sync types: ``POST /api/sync/resume {"syncType": ...}``, and the per-type pause state
(paused, reason, consecutive systemic failures, last success) that ``GET /api/sync/status``
(:mod:`syncsvc.web.status`) reports beside the cursor and schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Blueprint, Response, current_app, jsonify, request

from syncsvc import metrics
from syncsvc.clients.alerts import send_alert
from syncsvc.domain.synctypes import SYNC_TYPE_NAMES
from syncsvc.settings import Settings
from syncsvc.store import pause
from syncsvc.web.schemas import ResumeRequest, ResumeResponse
from syncsvc.web.service import Service
from syncsvc.web.spec import AUTH, REDIS, documented

bp = Blueprint("pause_api", __name__, url_prefix="/api")


def _svc() -> Service:
    svc: Service = current_app.extensions["syncsvc"]
    return svc


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def type_states(conn: redis.Redis, settings: Settings) -> dict[str, dict[str, Any]]:
    """Per type: paused and why, systemic failures in a row, last success (merged into
    ``GET /api/sync/status`` by :mod:`syncsvc.web.status`)."""
    prefix = settings.key_prefix
    held = pause.all_paused(conn, prefix)
    failures = pause.consecutive_failures(conn, prefix)
    last = {k.decode() if isinstance(k, bytes) else k: float(v)
            for k, v in conn.hgetall(metrics.last_success_key(prefix)).items()}  # fmt: skip
    out = {}
    for sync_type in SYNC_TYPE_NAMES:
        record = held.get(sync_type)
        out[sync_type] = {
            "paused": record is not None,
            "pausedReason": record["reason"] if record else None,
            "pausedSince": _iso(record["since"]) if record else None,
            "consecutiveFailures": failures.get(sync_type, 0),
            "pauseAfter": settings.pause_after_failures,
            "lastSuccessAt": _iso(last.get(sync_type)),
        }
    return out


@bp.post("/sync/resume")
@documented(
    "Resume a paused sync type's scheduled runs (and tell SYNC_ALERT_WEBHOOK_URL)",
    {200: (ResumeResponse, "Resumed, or it was not paused"), 400: "syncType missing or unknown", **AUTH, **REDIS},
    body=ResumeRequest,
)
def resume() -> tuple[Response, int]:
    try:
        body = json.loads(request.get_data(cache=False) or b"{}")
    except ValueError:
        return jsonify({"success": False, "error": 'body must be JSON: {"syncType": ...}'}), 400
    sync_type = body.get("syncType") if isinstance(body, dict) else None
    if sync_type not in SYNC_TYPE_NAMES:
        allowed = ", ".join(SYNC_TYPE_NAMES)
        return jsonify({"success": False, "error": f"syncType must be one of {allowed}, got {sync_type!r}"[:300]}), 400
    svc = _svc()
    lifted = pause.resume(svc.redis, svc.settings.key_prefix, sync_type)
    if lifted is not None:
        current_app.logger.info("%s resumed (was paused: %s)", sync_type, lifted["reason"])
        send_alert(svc.settings.alert_webhook_url, "resumed", sync_type, previousReason=lifted["reason"])
    message = f"{sync_type} resumed" if lifted else f"{sync_type} was not paused"
    return jsonify({"success": True, "syncType": sync_type, "wasPaused": lifted is not None, "message": message}), 200
