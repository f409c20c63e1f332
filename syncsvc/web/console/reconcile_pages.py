"""The console's reconciliation pages: start one, watch it, read the report, queue the fix."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request
from werkzeug.wrappers.response import Response as WResponse

from jobs.enqueue import AlreadyQueued
from jobs.reconcile import NothingToFix, queue_fix, recent, start_reconcile
from syncsvc.domain.synctypes import SYNC_TYPE_NAMES
from syncsvc.web.console.pages import bp, service
from syncsvc.web.reconcile_api import report_of


@bp.get("/reconcile")
def reconcile_index() -> Any:
    svc = service()
    return render_template("console/reconcile.html", sync_types=SYNC_TYPE_NAMES, recent=recent(svc.redis, svc.settings))


@bp.post("/reconcile")
def reconcile_start() -> WResponse:
    sync_type = request.form.get("syncType", "")
    if sync_type not in SYNC_TYPE_NAMES:
        flash(f"type must be one of {', '.join(SYNC_TYPE_NAMES)}", "error")
        return redirect("/reconcile", code=303)
    svc = service()
    return redirect(f"/reconcile/{start_reconcile(svc.redis, svc.settings, sync_type)}", code=303)


@bp.get("/reconcile/<reconcile_id>")
def reconcile_page(reconcile_id: str) -> Any:
    report = report_of(reconcile_id)
    if report is None:
        message = f"No reconciliation {reconcile_id[:64]!r} (unknown, or older than 7 days)."
        return render_template("console/error.html", message=message), 404
    return render_template("console/reconcile_report.html", r=report, result=report["result"])


@bp.post("/reconcile/<reconcile_id>/fix")
def reconcile_fix(reconcile_id: str) -> WResponse:
    report = report_of(reconcile_id)
    if report is None or report["result"] is None:
        flash("This reconciliation has not finished (or expired)", "error")
        return redirect(f"/reconcile/{reconcile_id}", code=303)
    svc = service()
    try:
        job_id, req = queue_fix(svc.redis, svc.settings, report["result"], "dashboard", svc.job_function)
    except NothingToFix as exc:
        flash(str(exc), "error")
        return redirect(f"/reconcile/{reconcile_id}", code=303)
    except AlreadyQueued as exc:
        flash(f"{exc}; fix when it has finished", "error")
        return redirect(f"/runs/{exc.job_id}", code=303)
    flash(f"Syncing {len(req.keys or ())} missing or drifted record(s)", "info")
    return redirect(f"/runs/{job_id}", code=303)
