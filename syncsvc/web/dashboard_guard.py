"""A guard in front of rq-dashboard 0.9: malformed ids and parameters get a 4xx, never a 500.

rq-dashboard trusts its URL: a job id outside RQ's alphabet, a page size of ``abc`` or ``0``, an
unknown registry, a requeue of a job that is not failed, or compacting an empty queue each ended
in a traceback and a 500 (issue #10 defect 7). The checks run as an app-level ``before_request``
on the dashboard's blueprint, before its own code, and answer in its JSON style; a few of its
exceptions that only the data can cause (a job whose data is not plain values) are mapped to
4xx answers as well. The dashboard itself is not modified.

Only this deployment's queue and jobs are reachable: a queue name other than ours, or a job queued
on another queue (another deployment on the same Redis), is answered 404 like an unknown one.

Requeue also keeps "one run per sync type": a failed sync job is requeued only when it can take
its type's claim (no other run of that type is queued or running), so the operator's reflex
cannot put two runs of one type on the queue. "Requeue all" applies the same rule per job.
"""

from __future__ import annotations

import re
from typing import Any

import redis
from flask import Flask, Response, jsonify, request
from rq.exceptions import DeserializationError, InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus, requeue_job
from rq.registry import FailedJobRegistry

from jobs.enqueue import claim_for_requeue
from syncsvc.keys import as_str
from syncsvc.store.serializer import PlainPickleSerializer

BLUEPRINT = "rq_dashboard"
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
"""RQ's own rule for custom job ids (2.8), with a length bound."""
QUEUE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
REGISTRIES = frozenset({"queued", "failed", "deferred", "started", "finished", "scheduled", "canceled"})
ORDERS = frozenset({"asc", "dsc"})  # rq-dashboard's spelling of descending
MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000


def _answer(status: int, message: str) -> Response:
    resp = jsonify({"status": "ERROR", "success": False, "error": message})
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _int_in(raw: Any, low: int, high: int) -> bool:
    text = str(raw)
    return text.isascii() and text.isdigit() and low <= int(text) <= high


def check_arguments(args: dict[str, Any]) -> Response | None:
    """4xx for a malformed URL argument of any dashboard route, else None."""
    if "job_id" in args and not JOB_ID.fullmatch(str(args["job_id"])):
        return _answer(404, "no such job: job ids are letters, digits, '_' and '-'")
    if "queue_name" in args and args["queue_name"] is not None and not QUEUE_NAME.fullmatch(str(args["queue_name"])):
        return _answer(404, "no such queue")
    if "registry_name" in args and args["registry_name"] not in REGISTRIES:
        return _answer(404, f"no such registry; one of {', '.join(sorted(REGISTRIES))}")
    if "per_page" in args and not _int_in(args["per_page"], 1, MAX_PER_PAGE):
        return _answer(400, f"per_page must be an integer from 1 to {MAX_PER_PAGE}")
    if "page" in args and not _int_in(args["page"], 1, MAX_PAGE):
        return _answer(400, f"page must be an integer from 1 to {MAX_PAGE}")
    if "order" in args and args["order"] not in ORDERS:
        return _answer(400, "order must be asc or dsc")
    return None


def not_ours(conn: redis.Redis, queue_name: str, args: dict[str, Any]) -> Response | None:
    """404 for another deployment's queue or job, else None."""
    if args.get("queue_name") is not None and args["queue_name"] != queue_name:
        return _answer(404, "no such queue")
    if "job_id" in args:
        origin = conn.hget(Job.key_for(args["job_id"]), "origin")
        if origin is not None and as_str(origin) != queue_name:
            return _answer(404, "no such job (unknown, or its result expired)")
    return None


def _sync_type(job: Job) -> str | None:
    request_arg = job.args[0] if job.args and isinstance(job.args[0], dict) else {}
    value = request_arg.get("syncType")
    return value if isinstance(value, str) else None


def _requeue(conn: redis.Redis, app: Flask, job_id: str) -> tuple[int, str]:
    """Requeue one failed job under the claim rule: (HTTP status, message)."""
    try:
        job = Job.fetch(job_id, connection=conn, serializer=PlainPickleSerializer)
    except NoSuchJobError:
        return 404, "no such job (unknown, or its result expired)"
    if job.get_status(refresh=False) not in (JobStatus.FAILED, JobStatus.STOPPED):
        return 409, f"only a failed job can be requeued; this one is {job.get_status(refresh=False)}"
    sync_type = _sync_type(job)
    if sync_type is not None:
        holder = claim_for_requeue(conn, app.extensions["syncsvc"].settings, sync_type, job.id)
        if holder is not None:
            return 409, f"a {sync_type} sync is already queued or running: {holder}"
    requeue_job(job.id, connection=conn, serializer=PlainPickleSerializer)
    return 200, "OK"


def install(app: Flask) -> None:
    @app.before_request
    def guard_dashboard() -> Response | None:
        if request.blueprint != BLUEPRINT:
            return None
        args = dict(request.view_args or {})
        refused = check_arguments(args)
        if refused is not None:
            return refused
        conn: redis.Redis = app.extensions["syncsvc"].redis
        refused = not_ours(conn, app.extensions["syncsvc"].settings.queue_name, args)
        if refused is not None:
            return refused
        endpoint = (request.endpoint or "").rpartition(".")[2]
        if endpoint == "requeue_job_view":
            status, message = _requeue(conn, app, str(args["job_id"]))
            return jsonify(status="OK") if status == 200 else _answer(status, message)
        if endpoint == "requeue_all":
            registry = FailedJobRegistry(str(args["queue_name"]), connection=conn)
            outcomes = [_requeue(conn, app, job_id) for job_id in registry.get_job_ids(cleanup=False)]
            skipped = [message for status, message in outcomes if status != 200]
            return jsonify(status="OK", count=len(outcomes) - len(skipped), skipped=skipped)
        if endpoint == "compact_queue" and not conn.llen(f"rq:queue:{args['queue_name']}"):
            return jsonify(status="OK")  # RQ's compact renames the list: an empty one does not exist
        return None

    @app.errorhandler(DeserializationError)
    def not_plain(exc: DeserializationError) -> Response:
        return _answer(422, "this job's data is not plain values (not a syncsvc job?); it cannot be shown or run")

    @app.errorhandler(InvalidJobOperation)
    def invalid(exc: InvalidJobOperation) -> Response:
        return _answer(409, str(exc)[:300] or "not possible in the job's current state")
