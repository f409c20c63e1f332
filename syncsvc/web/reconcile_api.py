"""JSON routes for reconciliation: start one, read its report, queue the fix."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from jobs.enqueue import AlreadyQueued
from jobs.reconcile import RECONCILE_FUNCTION, NothingToFix, queue_fix, start_reconcile
from syncsvc.domain.model import InvalidRequest
from syncsvc.domain.synctypes import SYNC_TYPE_NAMES
from syncsvc.web.dashboard import job_url, public_base
from syncsvc.web.job_view import describe_job, fetch_job
from syncsvc.web.schemas import FixQueued, ReconcileQueued, ReconcileRequest, Reconciliation
from syncsvc.web.security import JOB_ID
from syncsvc.web.service import Service
from syncsvc.web.spec import AUTH, REDIS, documented

bp = Blueprint("reconcile_api", __name__, url_prefix="/api")


def _svc() -> Service:
    svc: Service = current_app.extensions["syncsvc"]
    return svc


def _fail(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"success": False, "error": message, **extra}), status


def report_of(reconcile_id: str) -> dict[str, Any] | None:
    """The reconciliation as the API shows it, or None when there is no such job."""
    svc = _svc()
    job = fetch_job(svc.redis, svc.settings, reconcile_id) if JOB_ID.match(reconcile_id) else None
    if job is None or job.func_name != RECONCILE_FUNCTION:
        return None
    described = describe_job(svc.redis, svc.settings, job)
    args = job.args[0] if job.args and isinstance(job.args[0], dict) else {}
    return {
        "reconcileId": job.id,
        "syncType": args.get("syncType"),
        "state": described["state"],
        "progress": described["progress"],
        "error": described["error"],
        "result": described["result"],
        "dashboardUrl": job_url(svc.settings, job.id),
    }


@bp.post("/reconcile")
@documented(
    "Compare Katana and Luca for one sync type (an RQ job with progress)",
    {202: (ReconcileQueued, "Queued; follow statusUrl"), 400: "Bad syncType", **AUTH, **REDIS},
    body=ReconcileRequest,
)
def start() -> tuple[Response, int]:
    try:
        body = json.loads(request.get_data(cache=False) or b"null")
    except ValueError:
        body = None
    sync_type = body.get("syncType") if isinstance(body, dict) else None
    if not isinstance(sync_type, str) or sync_type not in SYNC_TYPE_NAMES:
        return _fail(400, f'body must be {{"syncType": ...}} with one of {", ".join(SYNC_TYPE_NAMES)}')
    svc = _svc()
    try:
        reconcile_id = start_reconcile(svc.redis, svc.settings, sync_type)
    except InvalidRequest as exc:
        return _fail(400, str(exc))
    base = public_base(svc.settings)
    return jsonify({
        "success": True,
        "message": f"{sync_type} reconciliation queued",
        "reconcileId": reconcile_id,
        "syncType": sync_type,
        "statusUrl": f"{base}/api/reconcile/{reconcile_id}",
        "pageUrl": f"{base}/reconcile/{reconcile_id}",
    }), 202  # fmt: skip


@bp.get("/reconcile/<reconcile_id>")
@documented(
    "A reconciliation: state, progress, and when finished the report",
    {200: (Reconciliation, "The reconciliation"), 404: "Unknown or expired", **AUTH},
)
def show(reconcile_id: str) -> tuple[Response, int]:
    report = report_of(reconcile_id)
    if report is None:
        return _fail(404, f"no reconciliation {reconcile_id[:128]!r} (unknown, or older than 7 days)")
    return jsonify(report), 200


@bp.post("/reconcile/<reconcile_id>/fix")
@documented(
    "Queue a targeted sync of the missing (and, for stock cards, drifted) records",
    {
        202: (FixQueued, "The targeted sync is queued"),
        404: "Unknown or expired",
        409: "Not finished, nothing to fix, or a run of this type is queued or running",
        **AUTH,
    },
)
def fix(reconcile_id: str) -> tuple[Response, int]:
    report = report_of(reconcile_id)
    if report is None:
        return _fail(404, f"no reconciliation {reconcile_id[:128]!r} (unknown, or older than 7 days)")
    if report["result"] is None:
        return _fail(409, f"reconciliation {reconcile_id} has not finished ({report['state'].lower()})")
    svc = _svc()
    try:
        job_id, req = queue_fix(svc.redis, svc.settings, report["result"], "api", svc.job_function)
    except NothingToFix as exc:
        return _fail(409, str(exc))
    except AlreadyQueued as exc:
        return _fail(409, f"{exc}; fix when it has finished", jobId=exc.job_id)
    return jsonify({
        "success": True,
        "message": f"Syncing {len(req.keys or ())} missing or drifted record(s)",
        "jobId": job_id,
        "keys": list(req.keys or ()),
        "statusUrl": f"{public_base(svc.settings)}/api/sync/job/{job_id}",
    }), 202  # fmt: skip
