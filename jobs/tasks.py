"""The RQ entry point, enqueued on the deployment's queue (``SYNC_INSTANCE``, default ``sync``) by
:func:`jobs.enqueue.start_sync` and executed by ``rq worker -c syncsvc.ops.rq_settings``.

There is one job function for every sync type: its only argument is a
:meth:`RunRequest.to_job() <syncsvc.domain.model.RunRequest.to_job>` dict of JSON values, stored
with RQ's default serializer and read back as plain values only (never a
secret: the worker reads credentials from its own environment), validated again here because
anything that reaches Redis can enqueue. The run id is the RQ job id, so RQ's retry of an
abandoned job re-uses its history row and items instead of duplicating them.

Every job first checks that it was queued on this worker's deployment (:func:`own_job`): a plain
``rq worker sync`` started with another deployment's environment must not run it against that
deployment's Katana, Luca and keys.

Job-level retries (RQ's ``Retry`` on the job) are only for transient systemic failures
(:func:`syncsvc.domain.errors.retry_run`): a refused login, a configuration error or a bug ends
the job at once with no retries left, so a wrong ``LUCA_PASSWORD`` costs exactly one login.
"""

from __future__ import annotations

import logging
import os
import signal
import uuid
from datetime import UTC, datetime
from typing import Any

import redis
from rq import get_current_job
from rq.job import Job

from jobs.enqueue import attempts_started, executions, log_state
from jobs.orphans import job_vanished
from jobs.reconcile import reconcile
from jobs.run import run_sync
from jobs.schedule import fire, tick_of
from syncsvc.domain.errors import ConfigError, retry_run
from syncsvc.domain.model import RunRequest
from syncsvc.domain.synctypes import SYNC_TYPE_NAMES
from syncsvc.logsetup import bound, configure, install_mask
from syncsvc.parentdeath import die_with_parent
from syncsvc.settings import Settings, from_env, secrets_of

log = logging.getLogger(__name__)


def run_sync_job(request: dict[str, Any]) -> dict[str, Any]:
    """Run the sync described by ``request`` (``RunRequest.to_job()``); returns the run summary."""
    job = get_current_job()
    if job is not None:
        bind_to_worker(job)
    try:
        return _run(RunRequest.from_job(request), job)
    except BaseException as exc:
        if job is not None and job.retries_left and not retry_run(exc):
            give_up(job, exc)
        raise


def bind_to_worker(job: Job) -> None:
    """In a forked work horse, die with the worker: a horse whose worker was SIGKILLed would run
    on unsupervised (no heartbeats, no timeout), and its run could not be handed back safely."""
    raw = job.connection.hget(f"rq:worker:{job.worker_name}", "pid") if job.worker_name else None
    worker_pid = int(raw) if raw else None
    if worker_pid is not None and worker_pid == os.getppid():  # not a SimpleWorker (same pid)
        die_with_parent(signal.SIGKILL, expected_parent=worker_pid)


def own_job(job: Job | None, settings: Settings) -> None:
    """Refuse a job queued by another deployment (its queue is not ours).

    Raises:
        ConfigError: naming both queues (the job fails with no retry: a retry cannot fix it).
    """
    if job is not None and job.origin != settings.queue_name:
        raise ConfigError(
            f"job {job.id} was queued on {job.origin!r} but this worker's deployment is {settings.queue_name!r} "
            "(SYNC_INSTANCE): start that deployment's workers with its own environment"
        )


def _run(req: RunRequest, job: Job | None) -> dict[str, Any]:
    settings = from_env()
    own_job(job, settings)
    # A worker started without our settings module (plain `rq worker sync`) has no root handler.
    configure()
    install_mask(secrets_of(settings))
    with bound(job_id=job.id if job is not None else None):
        return _run_job(req, settings, job)


def _run_job(req: RunRequest, settings: Settings, job: Job | None) -> dict[str, Any]:
    if job is None:  # called directly (python -c ...): run in-process
        conn = redis.Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0")
        return run_sync(req, settings=settings, conn=conn, run_id=uuid.uuid4().hex)

    def publish(progress: dict[str, Any]) -> None:
        job.meta["progress"] = progress
        job.meta["runId"] = job.id
        job.save_meta()

    def will_retry(exc: BaseException) -> bool:
        # RQ's own rule (retries left) narrowed by ours (give_up below for what a retry cannot fix).
        return bool(job.retries_left) and retry_run(exc)

    # Each execution's STARTED and outcome, with its attempt number, in the job's state history.
    conn = job.connection
    attempt = attempts_started(conn, settings, job.id) + 1
    log_state(conn, settings, job.id, "STARTED", attempt)
    try:
        summary = run_sync(
            req, settings=settings, conn=conn, run_id=job.id, publish=publish, will_retry=will_retry,
            vanished=lambda: job_vanished(conn, job.id), executions=lambda: executions(conn, settings, job.id),
        )  # fmt: skip
    except BaseException as exc:
        outcome = "FAILED_WILL_RETRY" if will_retry(exc) else "FAILED"
        log_state(conn, settings, job.id, outcome, attempt, f"{type(exc).__name__}: {exc}".splitlines()[0])
        raise
    log_state(conn, settings, job.id, "FINISHED", attempt)
    return summary


def run_reconcile_job(request: dict[str, Any]) -> dict[str, Any]:
    """Compare Katana with Luca for ``request["syncType"]`` (read-only); returns the report."""
    job = get_current_job()
    sync_type = request.get("syncType") if isinstance(request, dict) else None
    RunRequest(sync_type=sync_type)  # type: ignore[arg-type]  # validates: anything can enqueue
    assert isinstance(sync_type, str)
    settings = from_env()
    own_job(job, settings)
    configure()
    install_mask(secrets_of(settings))
    if job is None:
        return reconcile(sync_type, settings, redis.Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0"))

    def publish(progress: dict[str, Any]) -> None:
        job.meta["progress"] = progress
        job.save_meta()

    with bound(job_id=job.id, sync_type=sync_type):
        return reconcile(sync_type, settings, job.connection, publish)


def scheduled_sync(sync_type: str) -> dict[str, Any]:
    """One cron tick of ``sync_type`` (enqueued by ``syncsvc scheduler``): start an incremental
    run, or record the tick as skipped when the type is busy (jobs/schedule.py)."""
    settings = from_env()
    configure()
    install_mask(secrets_of(settings))
    if sync_type not in SYNC_TYPE_NAMES:
        raise ConfigError(f"unknown sync type {sync_type!r} in a schedule; known: {', '.join(SYNC_TYPE_NAMES)}")
    job = get_current_job()
    own_job(job, settings)
    enqueued = (job.enqueued_at if job is not None else None) or datetime.now(UTC)
    expression = settings.schedules.get(sync_type, "")
    tick = tick_of(expression, enqueued) if expression else enqueued.replace(second=0, microsecond=0)
    conn = job.connection if job is not None else redis.Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0")
    return fire(conn, settings, sync_type, tick)


def give_up(job: Job, exc: BaseException) -> None:
    """No job-level retry for this failure: the worker's failure handling reads ``retries_left``
    from this very object (RQ pushes it as the current job), and the hash says so too."""
    job.retries_left = 0
    try:
        job.connection.hset(job.key, "retries_left", 0)
    except redis.RedisError:  # the in-memory value already stops the retry
        pass
    reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    log.error("job %s failed; not retried (a retry cannot fix this): %s", job.id, reason)
