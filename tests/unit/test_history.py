"""The run history store: upserts keyed by (run, item), and several openers of a new file at once."""

from __future__ import annotations

import threading
from pathlib import Path

from syncsvc.domain.model import ItemRecord
from syncsvc.store.history import History


def test_items_are_upserted_and_counted(tmp_path: Path) -> None:
    h = History(str(tmp_path / "h.db"))
    h.start_run("r1", "PRODUCT", {"limit": 5}, False)
    h.record_items("r1", [ItemRecord("A", "failed", error_class="TransientError"), ItemRecord("B", "created")])
    h.record_items("r1", [ItemRecord("A", "created", attempts=2)])  # a retry round replaces A's outcome
    h.finish_run("r1", "finished", {"total": 2, "created": 2})
    assert h.outcome_counts("r1") == {"created": 2}
    runs, total = h.list_runs(sync_type="PRODUCT", status="finished")
    assert total == 1 and runs[0]["params"] == {"limit": 5} and runs[0]["created"] == 2
    h.close()


def test_many_processes_opening_a_new_database_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "new.db")
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def open_and_write(n: int) -> None:
        try:
            barrier.wait()
            h = History(path)
            h.start_run(f"r{n}", "PRODUCT", {}, False)
            h.close()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_and_write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    h = History(path)
    assert h.list_runs()[1] == 8
    h.close()
