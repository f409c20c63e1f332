"""SYNC_HISTORY_KEEP_DAYS: old runs and their items go, recent and running ones stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncsvc.domain.model import iso_utc as iso
from syncsvc.store.history import History, ItemRecord

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def run_at(history: History, run_id: str, days_ago: float, status: str = "finished", items: int = 3) -> None:
    history.start_run(run_id, "PRODUCT", {}, False)
    history.record_items(run_id, [ItemRecord(f"{run_id}-{n}", "created") for n in range(items)])
    if status != "running":
        history.finish_run(run_id, status, {"total": items, "created": items})
    stamp = iso(NOW - timedelta(days=days_ago))
    with history.session(write=True) as s:
        ended = None if status == "running" else stamp
        s.update("runs", {"run_id": run_id}, {"started_at": stamp, "finished_at": ended})


def test_prune_removes_old_runs_with_their_items(history: History) -> None:
    run_at(history, "old-finished", 40)
    run_at(history, "old-failed", 31, status="failed")
    run_at(history, "old-running", 90, status="running")  # a live worker may still write to it
    run_at(history, "recent", 29)
    for n in range(45):  # more than one prune chunk
        run_at(history, f"bulk{n:02}", 100, items=1)
    assert history.prune(30, now=NOW) == 47
    runs, total = history.list_runs(limit=100)
    assert total == 2 and {r["run_id"] for r in runs} == {"old-running", "recent"}
    assert history.count_rows("run_items") == 6  # only the two kept runs' items
    assert history.list_items("old-finished") == ([], 0)
    assert history.prune(30, now=NOW) == 0


def test_prune_runs_at_most_once_per_period_across_processes(history: History, target: str) -> None:
    from syncsvc.store.history import open_history

    assert history.prune_if_due(None) is None  # default: keep everything
    run_at(history, "ancient", days_ago=(datetime.now(UTC) - NOW).days + 400)
    other = open_history(target)  # another process (or host) on the same history
    try:
        assert history.prune_if_due(30) == 1
        run_at(history, "ancient2", days_ago=(datetime.now(UTC) - NOW).days + 400)
        assert other.prune_if_due(30) is None  # claimed within the hour by the first
        assert history.get_run("ancient2") is not None
        assert other.prune_if_due(30, every_s=0) == 1  # period over: due again
    finally:
        other.close()
