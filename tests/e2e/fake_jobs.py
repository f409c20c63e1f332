"""Stand-ins for the engine's job functions, importable by a real ``rq worker`` subprocess.

They follow the job contract (progress in ``job.meta["progress"]``, a run row and item rows in
the SQLite history at ``SYNC_HISTORY_DB``, the summary dict as the result) without touching
Katana or Luca. A test holds a job in the ``syncing`` phase by setting the Redis key
``fake:hold`` and releases it by deleting the key.
"""

from __future__ import annotations

import time
from typing import Any

from rq import get_current_job

from syncsvc.domain.errors import Unavailable
from syncsvc.domain.model import ItemRecord, RunRequest, utcnow
from syncsvc.settings import from_env
from syncsvc.store.history import open_history

HOLD_KEY = "fake:hold"
HOLD_MAX_S = 30.0


def _progress(phase: str, total: int, counts: dict[str, int]) -> dict[str, Any]:
    processed = sum(counts.values())
    return {"phase": phase, "total": total, "processed": processed, **counts, "updatedAt": utcnow()}


def fake_job(request: dict[str, Any]) -> dict[str, Any] | None:
    """CUSTOMER aborts (a systemic failure), the other types run :func:`fake_sync`."""
    if RunRequest.from_job(request).sync_type == "CUSTOMER":
        return fake_abort(request)
    return fake_sync(request)


def fake_sync(request: dict[str, Any]) -> dict[str, Any]:
    job = get_current_job()
    assert job is not None
    settings = from_env()
    req = RunRequest.from_job(request)
    sync_type, limit, dry_run = req.sync_type, req.limit, req.dry_run
    history = open_history(settings)
    started = time.monotonic()
    history.start_run(job.id, sync_type, {"limit": limit}, dry_run)
    total = min(limit or 6, 6)
    counts = {"created": 0, "updated": 0, "adopted": 0, "skipped": 0, "failed": 0}
    job.meta["progress"] = _progress("fetching", total, counts)
    job.save_meta()
    items = []
    for index in range(total):
        if index == 2:
            # Park mid-run so a test can observe progress and the 409 for a second start.
            deadline = time.monotonic() + HOLD_MAX_S
            while job.connection.exists(HOLD_KEY) and time.monotonic() < deadline:
                time.sleep(0.05)
        key = f"SKU-{index}"
        if index == total - 1 and total > 3:
            outcome, item = (
                "failed",
                ItemRecord(key, "failed", error_class="BusinessError", message="Birim yok"),
            )
        else:
            outcome, item = "created", ItemRecord(key, "created", luca_id=1000 + index, attempts=1)
        counts[outcome] += 1
        items.append(ItemRecord(**{**item.__dict__, "finished_at": utcnow()}))
        job.meta["progress"] = _progress("syncing", total, counts)
        job.save_meta()
    history.record_items(job.id, items)
    summary = {
        "runId": job.id,
        "syncType": sync_type,
        "dryRun": dry_run,
        "total": total,
        **counts,
        "durationSeconds": round(time.monotonic() - started, 3),
        "failures": [
            {"key": i.item_key, "errorClass": i.error_class, "message": i.message}
            for i in items
            if i.outcome == "failed"
        ],
    }
    history.finish_run(job.id, "finished", {"total": total, **counts}, summary=summary)
    job.meta["progress"] = _progress("done", total, counts)
    job.save_meta()
    history.close()
    return summary


def fake_abort(request: dict[str, Any]) -> None:
    raise Unavailable("Katana answered HTTP 500 three times on /v1/products")
