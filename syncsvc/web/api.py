"""The JSON API blueprint: start syncs, watch jobs, read run history and cache health."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from jobs.enqueue import AlreadyQueued, resolve_mode, start_sync
from syncsvc.web.dashboard import job_url, public_base
from syncsvc.web.health import cache_status
from syncsvc.web.job_view import describe_job, fetch_job
from syncsvc.web.schemas import (
    BadRequest,
    CacheStatus,
    ItemsPage,
    ItemsQuery,
    JobStatus,
    RunDetail,
    RunsPage,
    RunsQuery,
    StartRequest,
    StartResponse,
    SyncStatus,
    parse_body,
    parse_query,
)
from syncsvc.web.service import Service
from syncsvc.web.spec import AUTH, REDIS, documented, openapi_document
from syncsvc.web.status import sync_status

bp = Blueprint("api", __name__, url_prefix="/api")

# RQ ids are letters, digits, '_' and '-'; anything else cannot be one of our jobs.
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def service() -> Service:
    svc: Service = current_app.extensions["syncsvc"]
    return svc


def fail(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"success": False, "error": message, **extra}), status


def camel(row: dict[str, Any]) -> dict[str, Any]:
    """History rows use snake_case columns; the API speaks camelCase like the rest of its JSON."""
    out = {}
    for key, value in row.items():
        head, *rest = key.split("_")
        out[head + "".join(part.title() for part in rest)] = value
    return out


@bp.post("/sync/start")
@documented(
    "Queue a sync run of one type",
    {
        202: (StartResponse, "Queued on the deployment's queue (SYNC_INSTANCE, default `sync`)"),
        400: "Invalid body; nothing was queued",
        409: "A run of this type is already queued or running (its id in jobId)",
        413: "Body too large",
        **AUTH,
        **REDIS,
    },
    body=StartRequest,
)
def start() -> tuple[Response, int]:
    try:
        req = parse_body(StartRequest, request.content_type, request.get_data(cache=False)).to_request("api")
    except BadRequest as exc:
        return fail(400, str(exc))
    svc = service()
    try:
        req = resolve_mode(svc.redis, svc.settings, req)
        job_id = start_sync(svc.redis, svc.settings, req, svc.job_function)
    except AlreadyQueued as exc:
        return fail(409, f"{exc}; wait for it to finish or follow it at /api/sync/job/{exc.job_id}", jobId=exc.job_id)
    body = {
        "success": True,
        "message": f"Sync job queued successfully: {req.sync_type}",
        "jobId": job_id,
        "syncType": req.sync_type,
        "syncMode": "async",
        "dryRun": req.dry_run,
        "limit": req.limit,
        "mode": req.mode,
        **({"keys": list(req.keys)} if req.keys else {}),
        "dashboardUrl": job_url(svc.settings, job_id),
        "statusUrl": f"{public_base(svc.settings)}/api/sync/job/{job_id}",
    }
    return jsonify(body), 202


@bp.get("/sync/job/<job_id>")
@documented(
    "State, progress, result or error, and state history of one job",
    {200: (JobStatus, "The job"), 404: "Unknown or expired job", **AUTH, **REDIS},
)
def job_status(job_id: str) -> tuple[Response, int]:
    svc = service()
    job = fetch_job(svc.redis, svc.settings, job_id) if _JOB_ID.match(job_id) else None
    if job is None:
        return fail(404, f"no job {job_id[:128]!r} (unknown, or expired: results are kept 1 day, failures 7)")
    return jsonify(describe_job(svc.redis, svc.settings, job)), 200


@bp.get("/sync/status")
@documented(
    "Per sync type: cursor, current and last run, next scheduled run, pending webhook events, retry set, paused",
    {200: (SyncStatus, "Where continuous sync stands"), **AUTH, **REDIS},
)
def status() -> tuple[Response, int]:
    """Per type: cursor, current and last run, next schedule, pending webhook events, retry set."""
    svc = service()
    return jsonify(sync_status(svc.redis, svc.settings, svc.history())), 200


@bp.get("/sync/history")
@documented(
    "Recorded runs, newest first",
    {200: (RunsPage, "A page of runs and the total matching"), 400: "Bad filter or paging value", **AUTH},
    query=RunsQuery,
)
def history() -> tuple[Response, int]:
    try:
        query = parse_query(RunsQuery, request.args)
    except BadRequest as exc:
        return fail(400, str(exc))
    limit, offset = query.window()
    rows, total = service().history().list_runs(query.type, query.status, limit, offset)
    return jsonify({"runs": [camel(r) for r in rows], "total": total, "limit": limit, "offset": offset}), 200


@bp.get("/sync/history/<run_id>")
@documented("One run with its per-outcome item counts", {200: (RunDetail, "The run"), 404: "Unknown run", **AUTH})
def run_detail(run_id: str) -> tuple[Response, int]:
    hist = service().history()
    run = hist.get_run(run_id)
    if run is None:
        return fail(404, f"no run {run_id[:128]!r} in the history")
    return jsonify({**camel(run), "outcomeCounts": hist.outcome_counts(run_id)}), 200


@bp.get("/sync/history/<run_id>/items")
@documented(
    "The items of one run, by key",
    {200: (ItemsPage, "A page of items"), 400: "Bad filter or paging value", 404: "Unknown run", **AUTH},
    query=ItemsQuery,
)
def run_items(run_id: str) -> tuple[Response, int]:
    try:
        query = parse_query(ItemsQuery, request.args)
    except BadRequest as exc:
        return fail(400, str(exc))
    outcome = query.outcome
    limit, offset = query.window()
    hist = service().history()
    if hist.get_run(run_id) is None:
        return fail(404, f"no run {run_id[:128]!r} in the history")
    rows, total = hist.list_items(run_id, outcome, limit, offset)
    body = {
        "runId": run_id,
        "items": [camel(r) for r in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }
    return jsonify(body), 200


@bp.get("/cache/status")
@documented("The engine's Luca lookup caches in Redis", {200: (CacheStatus, "One entry per cache"), **AUTH, **REDIS})
def cache() -> tuple[Response, int]:
    svc = service()
    return jsonify(cache_status(svc.redis, svc.settings)), 200


@bp.get("/openapi.json")
@documented("This document", {200: (None, "OpenAPI 3.1 JSON"), **AUTH})
def openapi() -> tuple[Response, int]:
    return jsonify(openapi_document(current_app, public_base(service().settings))), 200
