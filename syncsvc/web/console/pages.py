"""The console's routes: sign-in, runs, one run, start, failed items, retry and resolve.

Pages are rendered on the server (Jinja autoescapes every value: Katana text is untrusted); the
only script is ``static/live.js`` (live progress), allowed by the CSP as a same-origin file.
Every POST carries the session's CSRF token and must come from our own origin.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, current_app, flash, redirect, render_template, request, session
from werkzeug.wrappers.response import Response as WResponse

from jobs.enqueue import AlreadyQueued, current_claim, start_sync
from jobs.retry import NoSuchRun, NothingToRetry, resolve_item, retry_failed
from syncsvc.domain.model import OUTCOMES, RUN_STATUSES, TRIGGERS, RunRequest
from syncsvc.domain.synctypes import SYNC_TYPE_NAMES as SYNC_TYPES
from syncsvc.store import failures
from syncsvc.web import auth, security
from syncsvc.web.console import csrf
from syncsvc.web.dashboard import job_url
from syncsvc.web.job_view import fetch_job
from syncsvc.web.schemas import BadRequest, parse_choice, parse_paging
from syncsvc.web.service import Service

bp = Blueprint(
    "console", __name__, template_folder="templates", static_folder="static", static_url_path="/console-static"
)

PUBLIC_ENDPOINTS = {"console.login", "console.static"}
RUNS_PER_PAGE = 25
ITEMS_PER_PAGE = 50


def service() -> Service:
    svc: Service = current_app.extensions["syncsvc"]
    return svc


def modes() -> tuple[str, ...]:
    # Incremental runs exist once the run request carries a mode (issue #12).
    return ("full", "incremental") if "mode" in {f.name for f in fields(RunRequest)} else ("full",)


@bp.before_request
def guard() -> WResponse | None:
    token = service().settings.sync_api_token
    how = auth.credential(token)
    if request.endpoint not in PUBLIC_ENDPOINTS and how is None:
        if token is None:
            return auth.unauthorized("no SYNC_API_TOKEN is configured: the console only answers loopback clients")
        return auth.sign_in_redirect()
    if request.method not in security.SAFE_METHODS and how != "bearer":
        refused = security.refuse_cross_origin()
        if refused is not None:
            return refused
        csrf.check()
    return None


# -- sign-in ---------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect to another site after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    token = service().settings.sync_api_token
    target = _safe_next(request.values.get("next"))
    if token is None:
        return redirect(target)
    error = None
    if request.method == "POST":
        presented = request.form.get("token", "")
        if presented and auth._matches(presented, token):
            session.clear()
            session[auth.SESSION_FLAG] = True
            session.permanent = False
            return redirect(target, code=303)
        error = "That token is not right. Use the value of SYNC_API_TOKEN."
    return render_template("console/login.html", next=target, error=error), 401 if error else 200


@bp.post("/logout")
def logout() -> WResponse:
    session.clear()
    return redirect("/login", code=303)


# -- runs ------------------------------------------------------------------------------------


def _day(name: str) -> str | None:
    raw = request.args.get(name, "")
    if not raw:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest(f"{name} must be a date YYYY-MM-DD, got {raw[:40]!r}") from None
    if name == "until":
        day += timedelta(days=1)  # the whole day is included
    return day.isoformat().replace("+00:00", "Z")


def duration(run: dict[str, Any]) -> str:
    start, end = run.get("started_at"), run.get("finished_at")
    if not start:
        return ""
    t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
    t1 = datetime.fromisoformat(end.replace("Z", "+00:00")) if end else datetime.now(UTC)
    seconds = max(0.0, (t1 - t0).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _run_mode(run: dict[str, Any]) -> str:
    params = run.get("params") or {}
    return str(run.get("mode") or params.get("mode") or "full")


@bp.get("/")
def runs() -> Any:
    try:
        sync_type = parse_choice(request.args, "type", SYNC_TYPES)
        status = parse_choice(request.args, "status", RUN_STATUSES)
        trigger = parse_choice(request.args, "trigger", TRIGGERS)
        since, until = _day("since"), _day("until")
        page = max(1, int(request.args.get("page", "1"))) if request.args.get("page", "1").isdigit() else 1
    except BadRequest as exc:
        return render_template("console/error.html", message=str(exc)), 400
    limit, offset = RUNS_PER_PAGE, (page - 1) * RUNS_PER_PAGE
    rows, total = service().history().list_runs(sync_type, status, limit, offset, trigger, since, until)
    settings = service().settings
    for row in rows:
        row["duration"] = duration(row)
        row["mode"] = _run_mode(row)
        row["dashboard"] = job_url(settings, row["run_id"])
    filters = {k: request.args.get(k, "") for k in ("type", "status", "trigger", "since", "until")}
    return render_template(
        "console/runs.html",
        runs=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // RUNS_PER_PAGE)),
        filters=filters,
        sync_types=SYNC_TYPES,
        statuses=RUN_STATUSES,
        triggers=TRIGGERS,
        outcomes=OUTCOMES,
        queued=_queued_jobs(),
    )


def _queued_jobs() -> list[dict[str, Any]]:
    """Runs queued but not started yet (no history row): the claim keys name them."""
    svc = service()
    out = []
    for sync_type in SYNC_TYPES:
        job_id = current_claim(svc.redis, svc.settings, sync_type)
        if job_id is None:
            continue
        job = fetch_job(svc.redis, svc.settings, job_id)
        if job is not None and svc.history().get_run(job_id) is None and not job.is_finished and not job.is_failed:
            out.append({"job_id": job_id, "sync_type": sync_type, "state": str(job.get_status(refresh=False))})
    return out


@bp.get("/runs/<run_id>")
def run_page(run_id: str) -> Any:
    svc = service()
    hist = svc.history()
    run = hist.get_run(run_id)
    if run is None:
        job = fetch_job(svc.redis, svc.settings, run_id) if security.JOB_ID.match(run_id) else None
        if job is None:
            return render_template("console/error.html", message=f"No run {run_id[:64]!r} in the history."), 404
        return render_template("console/waiting.html", job_id=run_id, sync_type=job.meta.get("syncType"))
    try:
        outcome = parse_choice(request.args, "outcome", OUTCOMES)
        limit, offset = parse_paging(request.args, default_size=ITEMS_PER_PAGE, max_size=1000)
    except BadRequest as exc:
        return render_template("console/error.html", message=str(exc)), 400
    search = request.args.get("q", "").strip()[:200] or None
    items, total = hist.list_items(run_id, outcome, limit, offset, search)
    for item in items:
        item["diff_rows"] = _diff_rows(item.get("diff"))
    run["duration"] = duration(run)
    run["mode"] = _run_mode(run)
    counts = hist.outcome_counts(run_id)
    parent = hist.get_run(run["parent_run_id"]) if run.get("parent_run_id") else None
    return render_template(
        "console/run.html",
        run=run,
        items=items,
        total=total,
        limit=limit,
        offset=offset,
        outcome=outcome or "",
        q=search or "",
        outcomes=OUTCOMES,
        counts=counts,
        bar=_bar(counts),
        retryable=failures.failed_keys(hist, run_id),
        children=failures.children(hist, run_id),
        parent=parent,
        resolved=failures.resolutions(hist),
        dashboard=job_url(svc.settings, run_id),
    )


def _bar(counts: dict[str, int]) -> list[dict[str, Any]]:
    total = sum(counts.values()) or 1
    return [
        {"outcome": o, "count": counts.get(o, 0), "percent": round(100 * counts.get(o, 0) / total)}
        for o in OUTCOMES
        if counts.get(o)
    ]


def _diff_rows(raw: str | None) -> list[tuple[str, Any, Any]]:
    if not raw:
        return []
    try:
        data = json.loads(raw)
    except ValueError:
        return []
    return [(str(k), v[0], v[1]) for k, v in sorted(data.items()) if isinstance(v, list) and len(v) == 2]


_CSV_COLUMNS = ("item_key", "label", "katana_id", "luca_id", "outcome", "attempts", "error_class", "message")


def _cell(value: Any) -> Any:
    # A cell starting with = + - @ is a formula in a spreadsheet: Katana text must stay text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@bp.get("/runs/<run_id>/items.csv")
def items_csv(run_id: str) -> Response:
    hist = service().history()
    if hist.get_run(run_id) is None:
        abort(404)
    outcome = request.args.get("outcome") if request.args.get("outcome") in OUTCOMES else None
    rows, _ = hist.list_items(run_id, outcome, 1_000_000, 0, request.args.get("q") or None)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(_CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in _CSV_COLUMNS])
    resp = Response(buf.getvalue(), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="run-{run_id[:64]}-items.csv"'
    return resp


@bp.post("/runs/<run_id>/retry")
def retry(run_id: str) -> WResponse:
    svc = service()
    try:
        job_id, req = retry_failed(svc.redis, svc.settings, svc.history(), run_id, svc.job_function)
    except (NoSuchRun, NothingToRetry) as exc:
        flash(str(exc), "error")
        return redirect(f"/runs/{run_id}", code=303)
    except AlreadyQueued as exc:
        flash(f"{exc}; retry when it has finished", "error")
        return redirect(f"/runs/{run_id}", code=303)
    flash(f"Retrying {len(req.keys or ())} failed item(s) of run {run_id}", "info")
    return redirect(f"/runs/{job_id}", code=303)


@bp.post("/runs/<run_id>/resolve")
def resolve(run_id: str) -> WResponse:
    hist = service().history()
    run = hist.get_run(run_id)
    if run is None:
        abort(404)
    key = request.form.get("key", "").strip()
    reason = request.form.get("reason", "").strip()
    if not key or not reason:
        flash("Resolving an item needs its key and a reason", "error")
    else:
        svc = service()
        resolve_item(svc.redis, svc.settings, hist, run, key[:500], reason[:500])
        flash(f"Resolved {key[:100]}: it is no longer retried", "info")
    return redirect("/failed" if request.form.get("back") == "/failed" else f"/runs/{run_id}", code=303)


# -- start and failed items -------------------------------------------------------------------


@bp.route("/start", methods=["GET", "POST"])
def start() -> Any:
    if request.method == "GET":
        return render_template("console/start.html", sync_types=SYNC_TYPES, modes=modes())
    sync_type = request.form.get("syncType", "")
    mode = request.form.get("mode", "full")
    raw_limit = request.form.get("limit", "").strip()
    errors = []
    if sync_type not in SYNC_TYPES:
        errors.append(f"type must be one of {', '.join(SYNC_TYPES)}")
    if mode not in modes():
        errors.append(f"mode must be one of {', '.join(modes())}")
    if raw_limit and (not raw_limit.isdigit() or int(raw_limit) < 1 or len(raw_limit) > 9):
        errors.append("limit must be a whole number of at least 1, or empty for all items")
    if errors:
        return render_template("console/start.html", sync_types=SYNC_TYPES, modes=modes(), errors=errors), 400
    options: dict[str, Any] = {
        "sync_type": sync_type,
        "limit": int(raw_limit) if raw_limit else None,
        "dry_run": request.form.get("dryRun") == "on",
        "trigger": "dashboard",
    }
    if "mode" in {f.name for f in fields(RunRequest)}:
        options["mode"] = mode
    svc = service()
    try:
        job_id = start_sync(svc.redis, svc.settings, RunRequest(**options), svc.job_function)
    except AlreadyQueued as exc:
        flash(f"{exc}", "error")
        return redirect(f"/runs/{exc.job_id}", code=303)
    return redirect(f"/runs/{job_id}", code=303)


@bp.get("/failed")
def failed() -> Any:
    try:
        sync_type = parse_choice(request.args, "type", SYNC_TYPES)
    except BadRequest as exc:
        return render_template("console/error.html", message=str(exc)), 400
    rows = failures.current_failures(service().history(), sync_type)
    return render_template(
        "console/failed.html",
        groups=failures.grouped(rows),
        resolved=[r for r in rows if r["resolution"] is not None],
        sync_type=sync_type or "",
        sync_types=SYNC_TYPES,
    )


def install(app: Flask, public_url: str) -> None:
    csrf.install(app, public_url)
    app.register_blueprint(bp)
