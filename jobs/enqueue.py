"""Enqueueing sync jobs: one queued-or-running run per sync type, fresh ids, honest state log.

Why a claim key and not RQ's ``unique=True``: a unique id blocks re-use for as long as the job
hash lives (a year after a failure), and a fixed id re-enqueued without it runs twice. Instead
every start gets a fresh uuid4 id and takes ``{prefix}:claim:<TYPE>`` = job id with one Lua
script, which also decides whether the previous holder still counts:

* its job hash says queued/started/scheduled/deferred/created -> held, the start is refused (409);
* its job hash is gone (expired, deleted from the dashboard) or terminal -> stale, replaced;
* no job hash yet but the claim still carries its short enqueue-grace TTL -> held: the other
  start is between claiming and enqueueing. After a successful enqueue the TTL is removed; an
  API process that dies in that gap leaves a claim that expires by itself.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

import redis
from redis.client import Pipeline
from rq import Queue, Retry

from syncsvc.defaults import CLAIM_GRACE_MS, FAILURE_TTL_S, JOB_RETRY_INTERVALS_S, RESULT_TTL_S
from syncsvc.domain.model import RunRequest, utcnow
from syncsvc.keys import Keys, as_str
from syncsvc.settings import Settings
from syncsvc.store.cursors import Cursors
from syncsvc.store.pending import PendingEvents
from syncsvc.store.serializer import PlainPickleSerializer

# The documented worker command: the -c module names the queue (QUEUES = the instance's,
# ``Settings.queue_name``) and adds the job guard, the Redis auth check and preloading. A plain
# `rq worker <queue>` also runs our jobs (same serializer) when given the deployment's queue.
WORKER_COMMAND = "rq worker -c syncsvc.ops.rq_settings --with-scheduler"
JOB_FUNCTION = "jobs.tasks.run_sync_job"
"""The one RQ entry point, for every sync type (the type travels in the request)."""

RETRY = Retry(max=len(JOB_RETRY_INTERVALS_S), interval=list(JOB_RETRY_INTERVALS_S))
"""Abandoned jobs (killed worker) and transient systemic failures (``errors.retry_run``) are
retried after 30 s, then 120 s; every other failure ends the job at once (``jobs.tasks``)."""
STATE_LOG_TTL_S = FAILURE_TTL_S

_CLAIM = """
local current = redis.call('GET', KEYS[1])
if current then
  local status = redis.call('HGET', ARGV[2] .. current, 'status')
  if status then
    if status ~= 'finished' and status ~= 'failed' and status ~= 'stopped' and status ~= 'canceled' then
      return current
    end
  elseif redis.call('PTTL', KEYS[1]) > 0 then
    return current
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return false
"""

_CONFIRM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PERSIST', KEYS[1]) end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class AlreadyQueued(Exception):
    """A run of this type is queued or running; ``job_id`` is that run."""

    def __init__(self, sync_type: str, job_id: str) -> None:
        super().__init__(f"a {sync_type} sync is already queued or running: {job_id}")
        self.sync_type = sync_type
        self.job_id = job_id


def claim_key(settings: Settings, sync_type: str) -> str:
    return Keys(settings.key_prefix).start_claim(sync_type)


def state_log_key(settings: Settings, job_id: str) -> str:
    return Keys(settings.key_prefix).job_states(job_id)


def sync_queue(conn: redis.Redis, settings: Settings) -> Queue:
    """This deployment's queue (named by ``SYNC_INSTANCE``). RQ's default serializer (what every
    RQ tool uses), read back as plain values only."""
    return Queue(settings.queue_name, connection=conn, serializer=PlainPickleSerializer)


def new_job_id(settings: Settings) -> str:
    """A fresh job id that names its deployment: RQ keeps every job at ``rq:job:<id>``, one
    namespace for every deployment on the Redis, and the id shows whose job it is."""
    return f"{settings.instance}-{uuid.uuid4().hex}"


def resolve_mode(conn: redis.Redis, settings: Settings, request: RunRequest) -> RunRequest:
    """The request with its mode decided now, so the response, the job and the history all say
    which ran: incremental when the type has a cursor, else full."""
    if request.mode is not None or request.keys:
        return request
    has_cursor = Cursors(conn, settings.key_prefix).get(request.sync_type) is not None
    return replace(request, mode="incremental" if has_cursor else "full")


def start_sync(
    conn: redis.Redis,
    settings: Settings,
    request: RunRequest,
    job_function: str = JOB_FUNCTION,
) -> str:
    """Claim the sync type and enqueue its job; return the new job id. ``job_function`` is
    replaced only by tests (stand-in jobs with the same contract).

    Raises:
        AlreadyQueued: a run of the same type is queued or running.
        redis.RedisError: Redis is unreachable (the caller answers 503).
    """
    request = resolve_mode(conn, settings, request)
    job_id = new_job_id(settings)
    key = claim_key(settings, request.sync_type)
    holder = conn.eval(_CLAIM, 1, key, job_id, "rq:job:", str(CLAIM_GRACE_MS))
    if holder is not None:
        # A holder whose worker died is handed back to the queue here rather than after RQ's
        # 10-minute maintenance (imported late: recovery builds on this module).
        from jobs.recovery import recover

        recover(conn, settings, request.sync_type)
        raise AlreadyQueued(request.sync_type, as_str(holder))
    try:
        _enqueue(conn, settings, job_function, request, job_id, RESULT_TTL_S)
    except BaseException:
        conn.eval(_RELEASE, 1, key, job_id)
        conn.delete(state_log_key(settings, job_id))
        raise
    conn.eval(_CONFIRM, 1, key, job_id)
    return job_id


def _enqueue(
    conn: redis.Redis, settings: Settings, job_function: str, request: RunRequest, job_id: str, result_ttl: int
) -> None:
    """Log QUEUED and enqueue in one transaction (one round trip): the log is there before any
    worker can pick the job up."""
    pipe = conn.pipeline(transaction=True)
    pipe.multi()  # explicit: RQ queues its commands after ours instead of starting the MULTI itself
    _log_state(pipe, settings, job_id, "QUEUED")
    sync_queue(conn, settings).enqueue(
        job_function,
        request.to_job(),
        job_id=job_id,
        job_timeout=settings.job_timeout_s,
        result_ttl=result_ttl,
        failure_ttl=FAILURE_TTL_S,
        retry=RETRY,
        description=request.description,
        pipeline=pipe,
    )
    pipe.execute()


DRAIN_RESULT_TTL_S = 3600
"""Drains are many and small: their results stay an hour (their runs stay in the history)."""


def start_drain(conn: redis.Redis, settings: Settings, sync_type: str, job_function: str = JOB_FUNCTION) -> str | None:
    """Make sure one drain of the type's webhook events is queued. Returns the new job's id, or
    None when a drain is already queued (it will take these events too). Drains don't take the
    start claim: they never answer 409 to a webhook and never stop an operator's run; the run
    lock keeps them from running beside another run of their type."""
    pending = PendingEvents(conn, settings.key_prefix, sync_type)
    job_id = new_job_id(settings)
    if not pending.claim_drain(job_id):
        return None
    _enqueue_drain(conn, settings, pending, job_id, job_function)
    return job_id


def note_event(
    conn: redis.Redis, settings: Settings, sync_type: str, ref: str, at_ms: int, job_function: str = JOB_FUNCTION
) -> tuple[bool, str | None]:
    """A webhook delivery: ``ref`` joins the type's pending set and a drain is queued unless one
    already is (as :func:`start_drain`), in one round trip; a second one only for the delivery
    that queues the drain. Returns (ref was new, the drain job queued now or None)."""
    pending = PendingEvents(conn, settings.key_prefix, sync_type)
    job_id = new_job_id(settings)
    new, claimed = pending.record(ref, at_ms, job_id)
    if not claimed:
        return new, None
    _enqueue_drain(conn, settings, pending, job_id, job_function)
    return new, job_id


def _enqueue_drain(
    conn: redis.Redis, settings: Settings, pending: PendingEvents, job_id: str, job_function: str
) -> None:
    request = RunRequest(pending.sync_type, trigger="webhook", mode="drain")
    try:
        _enqueue(conn, settings, job_function, request, job_id, DRAIN_RESULT_TTL_S)
    except BaseException:
        pending.release_drain(job_id)
        conn.delete(state_log_key(settings, job_id))
        raise


def claim_for_requeue(conn: redis.Redis, settings: Settings, sync_type: str, job_id: str) -> str | None:
    """Let an existing (failed) job take its type's claim before it is requeued, by the same rule
    as a start; return the job id that holds the type instead, or None when the claim is taken."""
    key = claim_key(settings, sync_type)
    holder = conn.eval(_CLAIM, 1, key, job_id, "rq:job:", str(CLAIM_GRACE_MS))
    if holder is not None:
        held = holder.decode() if isinstance(holder, bytes) else str(holder)
        if held != job_id:
            return held
    conn.eval(_CONFIRM, 1, key, job_id)
    return None


def current_claim(conn: redis.Redis, settings: Settings, sync_type: str) -> str | None:
    raw = conn.get(claim_key(settings, sync_type))
    return None if raw is None else as_str(raw)


def log_state(
    conn: redis.Redis,
    settings: Settings,
    job_id: str,
    state: str,
    attempt: int | None = None,
    reason: str | None = None,
) -> None:
    """Append a state change observed by the service itself (RQ keeps no such log): the API's
    QUEUED, then per execution its STARTED and how it ended (FINISHED, FAILED_WILL_RETRY, FAILED,
    ABANDONED) with the attempt number and the reason."""
    pipe = conn.pipeline()
    _log_state(pipe, settings, job_id, state, attempt, reason)
    pipe.execute()


def _log_state(
    pipe: Pipeline,
    settings: Settings,
    job_id: str,
    state: str,
    attempt: int | None = None,
    reason: str | None = None,
) -> None:
    entry: dict[str, Any] = {"stateName": state, "createdAt": utcnow()}
    if attempt is not None:
        entry["attempt"] = attempt
    if reason:
        entry["reason"] = reason[:500]
    key = state_log_key(settings, job_id)
    pipe.rpush(key, json.dumps(entry))
    pipe.expire(key, STATE_LOG_TTL_S)


def read_state_log(conn: redis.Redis, settings: Settings, job_id: str) -> list[dict[str, Any]]:
    out = []
    for raw in conn.lrange(state_log_key(settings, job_id), 0, -1):
        text = as_str(raw)
        try:
            entry = json.loads(text)
        except ValueError:  # written before entries were JSON: "STATE timestamp"
            state, _, at = text.partition(" ")
            entry = {"stateName": state, "createdAt": at}
        if isinstance(entry, dict):
            out.append(entry)
    return out


def attempts_started(conn: redis.Redis, settings: Settings, job_id: str) -> int:
    return sum(1 for e in read_state_log(conn, settings, job_id) if e.get("stateName") == "STARTED")


ENDINGS = ("FINISHED", "FAILED", "FAILED_WILL_RETRY", "ABANDONED")


def executions(conn: redis.Redis, settings: Settings, job_id: str) -> list[dict[str, Any]]:
    """Each execution of the job, from its state log: ``attempt``, ``startedAt`` and, once it
    ended, ``outcome`` (one of ENDINGS), ``endedAt`` and ``reason``. The run history keeps a copy
    (``runs.attempts``) that outlives the log and Redis itself."""
    out: list[dict[str, Any]] = []
    for entry in read_state_log(conn, settings, job_id):
        state = entry.get("stateName")
        if state == "STARTED":
            out.append({"attempt": entry.get("attempt") or len(out) + 1, "startedAt": entry.get("createdAt")})
        elif state in ENDINGS and out and "outcome" not in out[-1]:
            out[-1].update(outcome=state, endedAt=entry.get("createdAt"))
            if entry.get("reason"):
                out[-1]["reason"] = entry["reason"]
    return out
