"""Scheduled incremental runs: what one cron tick does, and when the next one is.

``syncsvc scheduler`` (``syncsvc/ops/scheduler.py``) enqueues :func:`jobs.tasks.scheduled_sync`
on each type's cron expression (``SYNC_SCHEDULE_<TYPE>``, UTC). The tick job itself then:

1. makes sure the tick runs once, however many schedulers enqueued it (``SET NX`` on the tick:
   rq's cron has no leader election; our scheduler elects one, and this covers two leaders
   during a partition or somebody also running ``rq cron``);
2. honours a paused type (the auto-pause, ``syncsvc.store.pause``): nothing starts;
3. starts the run through :func:`jobs.enqueue.start_sync` like the API does (mode left to
   decide: incremental once a cursor exists), or, when a run of the type is already queued or
   running, records the tick as a ``skipped`` run in the history instead of queueing behind it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from croniter import croniter

from jobs.enqueue import AlreadyQueued, start_sync
from syncsvc.domain.model import RunRequest
from syncsvc.keys import Keys
from syncsvc.settings import Settings
from syncsvc.store import pause
from syncsvc.store.history import open_history

log = logging.getLogger(__name__)

TICK_KEEP_S = 2 * 24 * 3600
"""How long a tick's once-only marker is kept (longer than any schedule's period)."""


def next_run(expression: str, after: datetime | None = None) -> datetime | None:
    """The next time ``expression`` fires after ``after`` (default now), UTC; None when off."""
    if not expression:
        return None
    base = after or datetime.now(UTC)
    nxt = croniter(expression, base).get_next(datetime)
    return nxt if nxt.tzinfo else nxt.replace(tzinfo=UTC)


def tick_of(expression: str, enqueued_at: datetime) -> datetime:
    """The cron tick a job enqueued at ``enqueued_at`` belongs to (the latest tick not after it,
    allowing the scheduler a few seconds' delay)."""
    if enqueued_at.tzinfo is None:
        enqueued_at = enqueued_at.replace(tzinfo=UTC)
    prev = croniter(expression, enqueued_at + timedelta(seconds=1)).get_prev(datetime)
    return prev if prev.tzinfo else prev.replace(tzinfo=UTC)


def is_paused(conn: redis.Redis, settings: Settings, sync_type: str) -> bool:
    """The auto-pause (store/pause.py) holds this type's scheduled runs."""
    return pause.paused(conn, settings.key_prefix, sync_type) is not None


def fire(conn: redis.Redis, settings: Settings, sync_type: str, tick: datetime) -> dict[str, Any]:
    """One cron tick of ``sync_type``; returns what happened (the tick job's result)."""
    stamp = tick.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if not conn.set(Keys(settings.key_prefix).cron_tick(sync_type, stamp), "1", nx=True, ex=TICK_KEEP_S):
        return {"syncType": sync_type, "tick": stamp, "outcome": "duplicate", "reason": "this tick already ran"}
    if is_paused(conn, settings, sync_type):
        log.info("%s schedule tick %s: paused, nothing started", sync_type, stamp, extra={"sync_type": sync_type})
        return {"syncType": sync_type, "tick": stamp, "outcome": "paused"}
    try:
        job_id = start_sync(conn, settings, RunRequest(sync_type, trigger="schedule"))
    except AlreadyQueued as exc:
        run_id = f"skip-{uuid.uuid4().hex}"
        history = open_history(settings)
        try:
            history.record_skipped(run_id, sync_type, "schedule", None, f"{exc} (schedule tick {stamp})")
        finally:
            history.close()
        log.info("%s schedule tick %s skipped: %s", sync_type, stamp, exc, extra={"sync_type": sync_type})
        return {"syncType": sync_type, "tick": stamp, "outcome": "skipped", "runId": run_id, "runningJob": exc.job_id}
    return {"syncType": sync_type, "tick": stamp, "outcome": "started", "jobId": job_id}
