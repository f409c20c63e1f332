"""Failed items across runs (syncsvc.store.failures) and the console's history queries, on both backends."""

from __future__ import annotations

from syncsvc.domain.model import ItemRecord
from syncsvc.store import failures
from syncsvc.store.history import History


def failed(key: str, message: str, katana_id: int | None = None, at: str = "2026-01-01T00:00:01Z") -> ItemRecord:
    return ItemRecord(key, "failed", kind="stock_card", error_class="MappingError", message=message,
                      finished_at=at, katana_id=katana_id)  # fmt: skip


def a_run(history: History, run_id: str, items: list[ItemRecord], sync_type: str = "PRODUCT") -> None:
    history.start_run(run_id, sync_type, {}, False)
    history.record_items(run_id, items)
    history.finish_run(run_id, "finished", {"total": len(items)})


def test_failures_group_by_reason_and_disappear_once_synced(history: History) -> None:
    hist = history
    a_run(hist, "r1", [
        failed("variant:12", "variant has no SKU; set a SKU in Katana (no code is invented)", 12),
        failed("variant:31", "variant has no SKU; set a SKU in Katana (no code is invented)", 31),
        failed("variant:40", "SKU 'A B' has characters a Luca code can't carry: ' '", 40),
        ItemRecord("OK-1", "created", kind="stock_card", finished_at="2026-01-01T00:00:01Z", katana_id=1),
    ])  # fmt: skip
    groups = failures.grouped(failures.current_failures(hist))
    assert [(len(g["items"]), g["errorClass"]) for g in groups] == [(2, "MappingError"), (1, "MappingError")]
    assert "fix it in Katana" in groups[0]["advice"]
    assert failures.failed_keys(hist, "r1") == ["variant:12", "variant:31", "variant:40"]
    # Variant 12 got a SKU and synced under its code in a later run: no longer failing.
    a_run(hist, "r2", [ItemRecord("SKU-12", "created", kind="stock_card", finished_at="2026-01-02T00:00:00Z",
                                  katana_id=12)])  # fmt: skip
    assert failures.failed_keys(hist, "r1") == ["variant:31", "variant:40"]
    failures.resolve(hist, "PRODUCT", "variant:40", "discontinued", "r1")
    assert failures.failed_keys(hist, "r1") == ["variant:31"]
    rows = failures.current_failures(hist)
    assert [r["item_key"] for r in rows if r["resolution"]] == ["variant:40"]
    assert sum(len(g["items"]) for g in failures.grouped(rows)) == 1


def test_items_search_by_key_or_label_and_runs_by_trigger_and_date(history: History) -> None:
    a_run(history, "r1", [
        ItemRecord("SKU-100", "created", kind="stock_card", label="Çelik Raf 100_a", katana_id=1),
        ItemRecord("SKU-200", "created", kind="stock_card", label="Ahşap Masa", katana_id=2),
        ItemRecord("variant:3", "failed", kind="stock_card", label=None, katana_id=3),
    ])  # fmt: skip
    assert [r["item_key"] for r in history.list_items("r1", search="sku-1")[0]] == ["SKU-100"]
    assert [r["item_key"] for r in history.list_items("r1", search="masa")[0]] == ["SKU-200"]
    assert history.list_items("r1", search="100%")[1] == 0  # wildcards are literal
    assert history.list_items("r1", search="0_a")[1] == 1
    assert history.list_items("r1", outcome="failed", search="variant")[1] == 1
    history.start_run("r2", "PRODUCT", {}, False, trigger="retry", parent_run_id="r1")
    assert [r["run_id"] for r in history.list_runs(trigger="retry")[0]] == ["r2"]
    assert history.list_runs(since="2999-01-01T00:00:00Z")[1] == 0
    assert history.list_runs(until="2000-01-01T00:00:00Z")[1] == 0
    assert [r["run_id"] for r in failures.children(history, "r1")] == ["r2"]
