"""Auto-pause: after N consecutive systemic failures of a sync type its scheduled runs stop until
someone resumes it (``POST /api/sync/resume``, ``syncsvc resume TYPE``).

Shared state in Redis, so every worker host, the scheduler and the web app agree:

* ``{prefix}:pause:failures`` hash (keys in :mod:`syncsvc.keys`): sync type -> consecutive systemic failures (reset by a
  finished run);
* ``{prefix}:pause:paused`` hash: sync type -> JSON ``{"reason", "since", "failures"}``.

The scheduler (and anything else that starts runs on its own: webhook drains) asks
:func:`paused` before enqueueing; a scheduled run that starts anyway skips itself
(:func:`jobs.run.run_sync`). Runs started by a person (API, CLI, console) still run: that is how
an operator checks the fix before resuming.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from syncsvc.keys import Keys

# Triggers that run without a person asking; a paused type skips them.
AUTOMATIC_TRIGGERS = ("schedule", "webhook")


def failures_key(prefix: str) -> str:
    return Keys(prefix).pause_failures()


def paused_key(prefix: str) -> str:
    return Keys(prefix).paused()


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def paused(conn: redis.Redis, prefix: str, sync_type: str) -> dict[str, Any] | None:
    """``{"reason", "since", "failures"}`` when the type is paused, else None."""
    raw = conn.hget(paused_key(prefix), sync_type)
    return json.loads(_text(raw)) if raw else None


def all_paused(conn: redis.Redis, prefix: str) -> dict[str, dict[str, Any]]:
    return {_text(k): json.loads(_text(v)) for k, v in conn.hgetall(paused_key(prefix)).items()}


def consecutive_failures(conn: redis.Redis, prefix: str) -> dict[str, int]:
    return {_text(k): int(v) for k, v in conn.hgetall(failures_key(prefix)).items()}


def record_success(conn: redis.Redis, prefix: str, sync_type: str) -> None:
    conn.hdel(failures_key(prefix), sync_type)


def record_systemic_failure(
    conn: redis.Redis, prefix: str, sync_type: str, reason: str, pause_after: int
) -> dict[str, Any] | None:
    """Count one; returns the pause record when this failure paused the type (exactly once)."""
    count = int(conn.hincrby(failures_key(prefix), sync_type, 1))
    if pause_after <= 0 or count < pause_after:
        return None
    record = {"reason": reason[:500], "since": time.time(), "failures": count}
    # HSETNX: two workers failing at once pause (and alert) once.
    if conn.hsetnx(paused_key(prefix), sync_type, json.dumps(record)):
        return record
    return None


def resume(conn: redis.Redis, prefix: str, sync_type: str) -> dict[str, Any] | None:
    """Unpause; returns the pause record that was lifted (None if it wasn't paused)."""
    pipe = conn.pipeline()
    pipe.hget(paused_key(prefix), sync_type)
    pipe.hdel(paused_key(prefix), sync_type)
    pipe.hdel(failures_key(prefix), sync_type)
    raw, _, _ = pipe.execute()
    return json.loads(_text(raw)) if raw else None
