"""``GET /api/sync/status``: per sync type, where continuous sync stands.

For each type: the cursor, the run queued or running now, the last run and its outcome, the next
scheduled run, webhook events waiting for a drain (and how old the oldest is), the retry-set
size, and whether the type is paused. Cheap: a handful of Redis calls and one history query per
type.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import redis

from jobs.enqueue import current_claim
from jobs.schedule import is_paused, next_run
from syncsvc.domain.model import OUTCOMES, iso_utc
from syncsvc.domain.synctypes import SYNC_TYPE_NAMES
from syncsvc.settings import Settings
from syncsvc.store.cursors import Cursors
from syncsvc.store.history import History
from syncsvc.store.pending import PendingEvents
from syncsvc.store.retryset import RetrySet
from syncsvc.web.pause_api import type_states


def _last_run(run: dict[str, Any] | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "runId": run["run_id"],
        "status": run["status"],
        "trigger": run.get("trigger"),
        "mode": run.get("mode"),
        "startedAt": run.get("started_at"),
        "finishedAt": run.get("finished_at"),
        "counts": {k: run.get(k) or 0 for k in ("total", *OUTCOMES)},
        "error": run.get("error"),
    }


def type_status(conn: redis.Redis, settings: Settings, history: History, sync_type: str) -> dict[str, Any]:
    prefix = settings.key_prefix
    cursor = Cursors(conn, prefix).get(sync_type)
    pending = PendingEvents(conn, prefix, sync_type)
    oldest = pending.oldest_ms()
    expression = settings.schedules.get(sync_type, "")
    nxt = next_run(expression)
    last = history.last_run(sync_type)
    finished = last if last is not None and last["status"] == "finished" else history.last_run(sync_type, "finished")
    return {
        "syncType": sync_type,
        "cursor": iso_utc(cursor) if cursor is not None else None,
        "current": current_claim(conn, settings, sync_type),
        "lastRun": _last_run(last),
        "lastFinishedRun": _last_run(finished),
        "schedule": expression or None,
        "nextRun": iso_utc(nxt) if nxt is not None else None,
        "pendingEvents": pending.size(),
        "oldestPendingSeconds": round(time.time() - oldest / 1000, 1) if oldest is not None else None,
        "drainQueued": pending.queued_drain(),
        "retrySet": RetrySet(conn, prefix, sync_type).size(),
        "paused": is_paused(conn, settings, sync_type),
    }


def sync_status(conn: redis.Redis, settings: Settings, history: History) -> dict[str, Any]:
    pauses = type_states(conn, settings)
    return {
        "at": iso_utc(datetime.now(UTC)),
        "webhooks": bool(settings.katana_webhook_tokens),
        "types": [type_status(conn, settings, history, t) | pauses[t] for t in SYNC_TYPE_NAMES],
    }
