"""The JSON shape of ``GET /api/sync/job/<jobId>``, read from RQ's job hash and results stream.

State history is assembled only from recorded facts: the ``QUEUED`` entry the API wrote when it
enqueued, then one entry per execution from RQ's results stream (``STARTED`` at the execution's
start, and how it ended), and the current execution's ``STARTED`` from ``job.started_at``.
When the current state is something nobody timestamped (e.g. a retry waiting in the scheduler
after a killed worker), it is appended with ``createdAt: null`` rather than an invented time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.results import Result

from jobs.enqueue import read_state_log
from syncsvc.domain.model import RunRequest, iso_utc
from syncsvc.settings import Settings
from syncsvc.store.serializer import PlainPickleSerializer

_RESULT_STATE = {
    Result.Type.SUCCESSFUL: "FINISHED",
    Result.Type.FAILED: "FAILED",
    Result.Type.STOPPED: "STOPPED",
    # The execution failed and RQ scheduled another attempt.
    Result.Type.RETRIED: "FAILED_WILL_RETRY",
    Result.Type.MAX_RETRIES_EXCEEDED: "FAILED",
}


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else iso_utc(dt)


def request_of(job: Job) -> RunRequest | None:
    """The run request a job carries (its only argument), or None for a job that is not ours."""
    try:
        args = job.args
        return RunRequest.from_job(args[0]) if len(args) == 1 and not job.kwargs else None
    except Exception:  # noqa: BLE001 - an undecodable or foreign job is simply not ours
        return None


def fetch_job(conn: redis.Redis, settings: Settings, job_id: str) -> Job | None:
    """This deployment's job ``job_id``, or None: RQ keeps every deployment's jobs at
    ``rq:job:<id>``, so a job queued on another deployment's queue is not shown (nor acted on)."""
    try:
        job = Job.fetch(job_id, connection=conn, serializer=PlainPickleSerializer)
    except NoSuchJobError:
        return None
    return job if job.origin == settings.queue_name else None


def last_line(text: str | None) -> str | None:
    """The exception line of a traceback (``RunAborted: Katana answered 500``), nothing else."""
    if not text:
        return None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def describe_job(conn: redis.Redis, settings: Settings, job: Job) -> dict[str, Any]:
    state = job.get_status(refresh=False)
    state_name = str(state.value if state is not None else "unknown").upper()
    results = list(reversed(job.results()))  # oldest first
    req = request_of(job)
    latest = results[-1] if results else None
    body: dict[str, Any] = {
        "jobId": job.id,
        "state": state_name,
        "createdAt": iso(job.created_at),
        "job": job.func_name,
        "syncType": req.sync_type if req else None,
        "dryRun": req.dry_run if req else None,
        "progress": job.meta.get("progress"),
        "result": None,
        "error": None,
        "history": _history(conn, settings, job, state_name, results),
        "retriesLeft": job.retries_left,
    }
    if state_name == "FINISHED" and latest is not None and latest.type == Result.Type.SUCCESSFUL:
        body["result"] = latest.return_value
    if state_name in ("FAILED", "STOPPED") and latest is not None:
        body["error"] = last_line(latest.exc_string) or state_name.lower()
    elif state_name in ("SCHEDULED", "QUEUED", "FAILED"):
        # Waiting for another attempt (or failed by the dead-run check, which leaves no Result):
        # name the last failure.
        failures = [e for e in body["history"] if e["stateName"] in _FAILED_STATES and e.get("reason")]
        if failures:
            body["error"] = failures[-1]["reason"]
        elif latest is not None and latest.type == Result.Type.RETRIED:
            body["error"] = last_line(latest.exc_string)
    return body


_FAILED_STATES = ("FAILED_WILL_RETRY", "ABANDONED", "FAILED")


def _history(
    conn: redis.Redis, settings: Settings, job: Job, state_name: str, results: list[Result]
) -> list[dict[str, Any]]:
    events = read_state_log(conn, settings, job.id)
    if not any(e["stateName"] == "QUEUED" for e in events) and job.enqueued_at is not None:
        # Enqueued by something other than this API (rq cron, rq enqueue, a dashboard requeue).
        events.insert(0, {"stateName": "QUEUED", "createdAt": iso(job.enqueued_at)})
    if not any(e["stateName"] == "STARTED" for e in events):
        # Executions the job function did not log itself (a job from before the log had them):
        # derive them from RQ's results stream and the job hash.
        events.extend(_from_rq(job, state_name, results))
    last = events[-1]["stateName"] if events else None
    if last != state_name and not (last in ("FAILED_WILL_RETRY", "ABANDONED") and state_name == "FAILED"):
        at = iso(job.enqueued_at) if state_name == "QUEUED" else None
        events.append({"stateName": state_name, "createdAt": at})
    return events


def _from_rq(job: Job, state_name: str, results: list[Result]) -> list[dict[str, Any]]:
    events = []
    for result in results:
        if result.execution_started_at is not None:
            events.append({"stateName": "STARTED", "createdAt": iso(result.execution_started_at)})
        events.append({"stateName": _RESULT_STATE.get(result.type, "UNKNOWN"), "createdAt": iso(result.created_at)})
    started, ended = iso(job.started_at), iso(job.ended_at)
    seen = {e["createdAt"] for e in events if e["stateName"] == "STARTED"}
    if state_name == "STARTED" and started and started not in seen:
        events.append({"stateName": "STARTED", "createdAt": started})
    elif state_name in ("SCHEDULED", "QUEUED") and started and ended and started not in seen:
        # An exception with retries left leaves no Result in RQ 2.12, only that execution's
        # start and end on the job hash: the attempt ran and failed, another one is pending.
        events.append({"stateName": "STARTED", "createdAt": started})
        events.append({"stateName": "FAILED_WILL_RETRY", "createdAt": ended})
    return events
