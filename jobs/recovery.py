"""Runs whose worker died: noticed by the run lock's silence, handed back within seconds.

RQ notices an abandoned job only when a live worker's maintenance pass finds its execution
expired in ``rq:wip:<queue>``: 60 s + one monitoring interval after the last heartbeat, checked
every 10 minutes, then retried after the ``Retry`` interval — measured 840 s to resume, with
every new start of that type refused meanwhile (issue #10 defect 4).

The run lock says it sooner: a running execution extends it every second and it expires 60 s
(``LOCK_TTL_S``) after the last extension. A claim held by a job that RQ still calls STARTED
while no lock exists (and the execution started long enough ago to have taken it) belongs to a
dead execution. :func:`recover` then hands the run back: the execution's entry leaves
``rq:wip`` (so RQ's maintenance does not retry it a second time), one retry is spent, and the job
goes to the front of the queue; a live worker resumes it at once and skips everything already
done (idempotent upserts, the run's own creation claims). With no retry left the job is failed
with the reason and the claim is free for a new start.

A webhook drain holds the run lock like any run but takes no claim; it names itself in
``...:drain:<TYPE>:running`` instead (``jobs/run.py``), and is handed back the same way. Its
next execution takes the refs the dead one left in ``...:inflight`` (``PendingEvents.take``);
a dead run with no retry left gets a fresh drain for them.

Who calls it: the API on every start of that type (:func:`jobs.enqueue.start_sync`) and a
watchdog thread in every worker started with ``-c syncsvc.ops.rq_settings`` (every
``WATCH_EVERY_S``), so a dead run resumes within LOCK_TTL_S + WATCH_EVERY_S of the kill even when
nobody asks. The same watchdog closes runs Redis forgot altogether and resumes their work
(:func:`jobs.orphans.heal_all`).
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from jobs.enqueue import attempts_started, current_claim, log_state, start_drain, sync_queue
from jobs.orphans import heal_all
from syncsvc.domain.errors import HistoryUnavailable
from syncsvc.domain.synctypes import SYNC_TYPES
from syncsvc.keys import Keys
from syncsvc.settings import Settings
from syncsvc.store.history import open_history
from syncsvc.store.locks import LOCK_TTL_S
from syncsvc.store.pending import PendingEvents
from syncsvc.store.serializer import PlainPickleSerializer

log = logging.getLogger(__name__)

START_GRACE_S = 15.0
"""An execution takes its run lock within moments of starting (fork, settings, one SET); until
this long after ``started_at`` a missing lock is not evidence of death."""
WATCH_EVERY_S = 10.0
"""How often each worker's watchdog looks for dead runs (one GET per sync type when all is well)."""
ABANDONED = "AbandonedRun: the worker running it died (its run lock expired)"


def _seconds_since(moment: datetime | None) -> float:
    if moment is None:
        return float("inf")
    if moment.tzinfo is None:  # RQ stores naive UTC
        moment = moment.replace(tzinfo=UTC)
    return (datetime.now(UTC) - moment).total_seconds()


def dead_execution(conn: redis.Redis, settings: Settings, sync_type: str) -> Job | None:
    """The job holding ``sync_type``'s claim, or its webhook drain that held the run lock, when
    that execution is dead; else None. Drains take no claim (a webhook never gets a 409), so
    without the drain's own marker a killed drain stayed STARTED until RQ's 10-minute maintenance
    and the refs it had taken waited in ``...:inflight`` with no drain queued to take them."""
    lock = Keys(settings.key_prefix).run_lock(sync_type)
    if conn.exists(lock):
        return None
    holders = (
        current_claim(conn, settings, sync_type),
        PendingEvents(conn, settings.key_prefix, sync_type).running_drain(),
    )
    for job_id in dict.fromkeys(h for h in holders if h is not None):
        try:
            job = Job.fetch(job_id, connection=conn, serializer=PlainPickleSerializer)
        except NoSuchJobError:
            continue
        if job.get_status(refresh=False) != JobStatus.STARTED or _seconds_since(job.started_at) < START_GRACE_S:
            continue
        # Re-check after reading the job: a live execution may have taken the lock meanwhile.
        return None if conn.exists(lock) else job
    return None


def recover(conn: redis.Redis, settings: Settings, sync_type: str) -> str | None:
    """Hand back ``sync_type``'s dead run, if there is one; return its job id."""
    job = dead_execution(conn, settings, sync_type)
    if job is None:
        return None
    started = job.started_at.isoformat() if job.started_at else "?"
    # Exactly one recoverer per dead execution (API processes and every worker's watchdog race).
    if not conn.set(Keys(settings.key_prefix).recovering(job.id, started), "1", nx=True, ex=LOCK_TTL_S * 5):
        return None
    queue = sync_queue(conn, settings)
    wip = queue.started_job_registry
    for job_id, execution_id in wip.get_job_and_execution_ids(cleanup=False):
        if job_id == job.id:
            conn.zrem(wip.key, f"{job_id}:{execution_id}")
    if job.retries_left:
        job.retries_left -= 1
        queue.enqueue_job(job, at_front=True)  # saves the job (retries_left included)
        outcome = "handed back to the queue"
    else:
        with conn.pipeline() as pipe:
            job.set_status(JobStatus.FAILED, pipeline=pipe)
            queue.failed_job_registry.add(job, ttl=job.failure_ttl, exc_string=ABANDONED, pipeline=pipe)
            pipe.execute()
        outcome = "failed (no retry left)"
        pending = PendingEvents(conn, settings.key_prefix, sync_type)
        pending.clear_running(job.id)
        if pending.size():  # what it had taken (or was waiting) goes to a new drain
            start_drain(conn, settings, sync_type)
    reason = f"{ABANDONED}; {outcome}"
    log_state(conn, settings, job.id, "ABANDONED", attempts_started(conn, settings, job.id), reason)
    mark_interrupted(
        settings, job.id, "retrying" if job.get_status(refresh=False) != JobStatus.FAILED else "failed", reason
    )
    log.warning(
        "%s run %s: its worker died (no run lock for %ss); %s",
        sync_type,
        job.id,
        LOCK_TTL_S,
        outcome,
        extra={"run_id": job.id, "job_id": job.id, "sync_type": sync_type},
    )
    return job.id


def mark_interrupted(settings: Settings, run_id: str, status: str, reason: str) -> None:
    """The dead execution's history row: ``retrying`` (or ``failed`` without a retry left) with
    the reason, its counts as far as its items were recorded."""
    try:
        history = open_history(settings, migrate=False)
    except Exception:  # the resumed run rewrites the row anyway
        log.warning("could not open the history to mark run %s", run_id, exc_info=True)
        return
    try:
        history.interrupt_run(run_id, status, history.recorded_counts(run_id), reason)
    except Exception:
        log.warning("could not mark run %s %s in the history", run_id, status, exc_info=True)
    finally:
        history.close()


def recover_all(conn: redis.Redis, settings: Settings) -> list[str]:
    return [job_id for name in SYNC_TYPES if (job_id := recover(conn, settings, name))]


def check(conn: redis.Redis, settings: Settings) -> None:
    """One pass of the watchdog: dead executions handed back, runs Redis forgot healed."""
    recover_all(conn, settings)
    try:
        heal_all(conn, settings)
    except HistoryUnavailable as exc:  # every 10 s while it lasts: /readyz and the runs say so
        log.debug("orphan check skipped: %s", exc)


def start_watchdog(redis_url: str, settings: Settings, every_s: float = WATCH_EVERY_S) -> threading.Thread:
    """Check for dead runs every ``every_s`` from a daemon thread of this (worker) process.

    RQ forks a work horse from this process for every job, and a fork copies whatever locks a
    thread holds at that moment (the import lock of a module being imported, a connection pool's
    lock) into a child where no thread will ever release them: the horse would hang on its first
    import of that module. So the thread uses its own Redis client, and a fork waits for the
    check in progress (``os.register_at_fork``): the watchdog never runs across a fork.
    """
    conn = redis.Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5)
    stop = threading.Event()
    busy = threading.Lock()
    os.register_at_fork(before=busy.acquire, after_in_parent=busy.release, after_in_child=busy.release)

    def watch() -> None:
        while not stop.wait(every_s):
            with busy:
                try:
                    check(conn, settings)
                except redis.RedisError as exc:  # Redis down: the worker itself reports that
                    log.debug("dead-run check skipped: %s", exc)
                except Exception:  # never let the check kill the thread
                    log.exception("dead-run check failed")

    thread = threading.Thread(target=watch, name="syncsvc-dead-run-watchdog", daemon=True)
    thread.start()
    return thread
