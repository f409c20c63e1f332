"""Items the cache snapshot already shows in Luca are recorded as skipped without a handler call."""

from __future__ import annotations

from jobs.control import RunControl
from jobs.engine import Done, Engine, Item, ItemState, Recorder, mark_unchanged
from syncsvc.domain.model import ItemRecord, Plan
from syncsvc.settings import Settings


def test_unchanged_items_skip_the_handler_and_the_rest_go_through_it() -> None:
    items = [Item(key=f"k{i}", kind="stock_card", plan=Plan.of(f"k{i}", {"n": i})) for i in range(5)]
    items.append(Item(key="gone", kind="stock_card", gone="deleted in Katana"))
    in_luca = {"k0": (100, items[0].plan.digest), "k1": (101, "older"), "k3": (103, items[3].plan.digest)}  # type: ignore[union-attr]

    def unchanged(key: str, digest: str) -> int | None:
        luca_id, held = in_luca.get(key, (None, None))
        return luca_id if held == digest else None

    assert mark_unchanged(items, unchanged) == 2
    called: list[str] = []

    def handler(plan: Plan, state: ItemState) -> Done:
        called.append(plan.key)
        return Done("updated" if plan.key == "k1" else "created", 200)

    recorded: list[ItemRecord] = []
    result = Engine(Settings(), RunControl(), Recorder(recorded.extend, 20)).run(items, handler)
    assert sorted(called) == ["k1", "k2", "k4"]
    assert result.counts["skipped"] == 2 and result.counts["updated"] == 1 and result.counts["created"] == 2
    assert result.counts["gone"] == 1 and result.counts["total"] == 6
    skipped = {r.item_key: r for r in recorded if r.outcome == "skipped"}
    assert {k: r.luca_id for k, r in skipped.items()} == {"k0": 100, "k3": 103}
    assert all(r.attempts == 0 for r in skipped.values())  # no call was made for them
