"""A create that times out on our side may still be committed by a slow Luca afterwards. The
look-up before creating again must not run before that can happen, or the invoice (or cari, which
Luca does not de-duplicate either) is posted twice."""

from __future__ import annotations

from pathlib import Path

from sandbox.testing import Sandbox
from tests.integration.engine_helpers import (
    assert_accounted,
    engine_settings,
    katana_list,
    luca_records,
    luca_state,
    run,
)

# Half of all invoice and cari creates sleep 1.5 s and then commit; the client gives up after 0.5 s.
SLOW_WRITES = {
    "slow_seconds": 1.5,
    "faults": {"slow": {"probability": 0.5, "actions": ["EkleFtrWsFaturaBaslik", "EkleFinMusteriWS"]}},
}


def test_timed_out_creates_that_commit_late_are_not_posted_twice(
    sandbox: Sandbox, redis_url: str, tmp_path: Path
) -> None:
    sandbox.admin("luca", "POST", "faults", SLOW_WRITES)
    settings = engine_settings(sandbox, redis_url, tmp_path, luca_timeout_s=0.5, luca_write_settle_s=2.0)
    summary = run(settings, "INVOICE")
    assert_accounted(settings, summary)
    injected = sandbox.admin("luca", "GET", "faults")["injected"]
    assert injected.get("slow", 0) >= 5, injected
    state = luca_state(sandbox)
    assert state["invoices"]["duplicate_tracking_numbers"] == []
    assert state["customers"]["duplicate_codes"] == []
    delivered = [o for o in katana_list(sandbox, "sales_orders", status="DELIVERED") if not o.get("deleted_at")]
    invoices = [r["belgeTakipNo"] for r in luca_records(sandbox, "invoices")]
    assert len(invoices) == summary["created"] + summary["adopted"] == len(delivered) - summary["failed"]
    # The timed-out ones were found by the look-up, not sent again.
    assert any("reply was lost" in (i.get("message") or "") for i in _items(settings, summary["runId"]))


def _items(settings: object, run_id: str) -> list[dict[str, object]]:
    from syncsvc.store.history import open_history

    history = open_history(settings.history_db)  # type: ignore[attr-defined]
    try:
        return history.list_items(run_id, limit=10000)[0]
    finally:
        history.close()
