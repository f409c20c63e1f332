"""The query surface: runs and items written, re-written by retries, filtered and paged."""

from __future__ import annotations

import pytest

from syncsvc.store.history import History, ItemRecord
from tests.history.together import together


def test_items_are_upserted_and_counted(history: History) -> None:
    history.start_run("r1", "PRODUCT", {"limit": 5}, False)
    history.record_items("r1", [ItemRecord("A", "failed", error_class="TransientError"), ItemRecord("B", "created")])
    history.record_items("r1", [ItemRecord("A", "created", attempts=2)])  # a retry round replaces A's outcome
    history.finish_run("r1", "finished", {"total": 2, "created": 2})
    assert history.outcome_counts("r1") == {"created": 2}
    runs, total = history.list_runs(sync_type="PRODUCT", status="finished")
    assert total == 1 and runs[0]["params"] == {"limit": 5} and runs[0]["created"] == 2
    assert runs[0]["dry_run"] is False and runs[0]["status"] == "finished" and runs[0]["finished_at"]


def test_a_restarted_run_keeps_its_items(history: History) -> None:
    history.start_run("r1", "INVOICE", {}, True, trigger="cli")
    history.record_items("r1", [ItemRecord("SO-1", "created", luca_id=2**40)])
    history.finish_run("r1", "failed", {"total": 1, "created": 1}, error="RunAborted: Katana down")
    history.start_run("r1", "INVOICE", {}, True, trigger="cli")  # RQ retries the same job id
    run = history.get_run("r1")
    assert run is not None
    assert run["status"] == "running" and run["error"] is None and run["trigger"] == "cli" and run["dry_run"] is True
    items, total = history.list_items("r1")
    assert total == 1 and items[0]["luca_id"] == 2**40  # 64-bit ids survive on both backends


def test_filters_order_and_pages(history: History) -> None:
    for n in range(5):
        sync_type = "PRODUCT" if n % 2 else "CUSTOMER"
        history.start_run(f"r{n}", sync_type, {}, False)
        if n < 3:
            history.finish_run(f"r{n}", "finished", {"total": 0})
    runs, total = history.list_runs(limit=2)
    assert total == 5 and [r["run_id"] for r in runs] == ["r4", "r3"]  # newest first
    runs, total = history.list_runs(limit=2, offset=4)
    assert total == 5 and [r["run_id"] for r in runs] == ["r0"]
    runs, total = history.list_runs(sync_type="CUSTOMER", status="running")
    assert total == 1 and [r["run_id"] for r in runs] == ["r4"]
    assert history.list_runs(sync_type="NOPE") == ([], 0)
    assert history.get_run("nope") is None


def test_items_page_in_byte_order_and_filter_by_outcome(history: History) -> None:
    history.start_run("r1", "PRODUCT", {}, False)
    keys = ["b", "B", "a", "A", "ç", "10", "9"]
    history.record_items("r1", [ItemRecord(k, "failed" if k.isdigit() else "created") for k in keys])
    items, total = history.list_items("r1")
    # Both backends order by code point (PostgreSQL columns use the "C" collation): same pages.
    assert total == 7 and [i["item_key"] for i in items] == sorted(keys)
    items, total = history.list_items("r1", outcome="failed", limit=1, offset=1)
    assert total == 2 and [i["item_key"] for i in items] == ["9"]
    assert history.list_items("nope") == ([], 0)


def test_a_big_batch_is_one_call(history: History) -> None:
    history.start_run("r1", "PRODUCT", {}, False)
    history.record_items("r1", (ItemRecord(f"SKU-{n:05}", "created", luca_id=n) for n in range(3000)))
    history.record_items("r1", [])
    assert history.outcome_counts("r1") == {"created": 3000}


def test_bad_finishes_are_refused(history: History) -> None:
    history.start_run("r1", "PRODUCT", {}, False)
    with pytest.raises(ValueError, match="unknown run status"):
        history.finish_run("r1", "done", {})
    with pytest.raises(LookupError, match="no run 'ghost'"):
        history.finish_run("ghost", "finished", {})


def test_threads_share_one_store(history: History) -> None:
    """The web app's threads and a run's engine threads call one store at once."""
    history.start_run("r1", "PRODUCT", {}, False)

    def work(n: int) -> None:
        for batch in range(10):
            history.record_items("r1", [ItemRecord(f"{n}-{batch}-{i}", "created") for i in range(20)])
            history.list_items("r1", limit=5)

    assert together(work, 6) == [] and history.outcome_counts("r1") == {"created": 6 * 10 * 20}


def test_a_retried_run_keeps_its_first_start_and_reads_retrying_meanwhile(history: History) -> None:
    history.start_run("r2", "PRODUCT", {}, False)
    first = history.get_run("r2")["started_at"]  # type: ignore[index]
    history.record_batch("r2", [], {"total": 9, "created": 3, "skipped": 1})  # live, while it runs
    assert {k: history.get_run("r2")[k] for k in ("total", "created", "skipped")} == {  # type: ignore[index]
        "total": 9, "created": 3, "skipped": 1,
    }  # fmt: skip
    history.interrupt_run("r2", "retrying", {"total": 4, "created": 3, "skipped": 1}, "Unavailable: Luca 503")
    waiting = history.get_run("r2")
    assert waiting is not None and waiting["status"] == "retrying" and waiting["finished_at"] is None
    assert waiting["error"] == "Unavailable: Luca 503"
    history.start_run("r2", "PRODUCT", {}, False)
    again = history.get_run("r2")
    assert again is not None and again["status"] == "running" and again["started_at"] == first


def test_an_open_run_is_closed_once_with_its_reason(history: History) -> None:
    """jobs/orphans.py closes a run Redis forgot; whoever closes it first keeps their account."""
    history.start_run("o1", "PRODUCT", {}, False)
    history.record_items("o1", [ItemRecord("A", "created"), ItemRecord("B", "failed")])
    history.start_run("o0", "PRODUCT", {}, False)
    history.interrupt_run("o0", "retrying", {}, "Unavailable: Luca down")
    history.start_run("c1", "CUSTOMER", {}, False)
    assert {r["run_id"] for r in history.open_runs("PRODUCT")} == {"o1", "o0"}
    assert history.close_open_run("o1", {"total": 2, "created": 1, "failed": 1}, "JobVanished: gone")
    assert not history.close_open_run("o1", {"total": 0}, "JobVanished: again")
    run = history.get_run("o1")
    assert run is not None and (run["status"], run["error"], run["total"], run["created"]) == (
        "failed", "JobVanished: gone", 2, 1)  # fmt: skip
    assert run["finished_at"] is not None
    history.start_run("o2", "PRODUCT", {}, False)
    history.finish_run("o2", "finished", {"total": 0})
    assert not history.close_open_run("o2", {"total": 0}, "JobVanished: late")
    assert history.get_run("o2")["status"] == "finished"  # type: ignore[index]
    assert [r["run_id"] for r in history.open_runs("PRODUCT")] == ["o0"]


def test_a_batch_writes_its_items_and_the_live_counts_together(history: History) -> None:
    history.start_run("r3", "PRODUCT", {}, False)
    history.record_batch(
        "r3",
        [ItemRecord("A", "skipped"), ItemRecord("B", "failed", message="no SKU")],
        {"total": 2, "skipped": 1, "failed": 1},
    )
    history.record_batch("r3", [ItemRecord("B", "created", luca_id=7)], {"total": 2, "skipped": 1, "created": 1})
    run = history.get_run("r3")
    assert run is not None and (run["total"], run["skipped"], run["created"], run["failed"]) == (2, 1, 1, 0)
    assert history.outcome_counts("r3") == {"skipped": 1, "created": 1}
    history.record_batch("r3", [], {"total": 3, "skipped": 2, "created": 1})  # counts alone still move
    assert history.get_run("r3")["total"] == 3  # type: ignore[index]
