"""Correctness under every Luca fault, a killed session, and Katana's request budget."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sandbox.testing import Sandbox, start_sandbox
from syncsvc.domain.errors import RunAborted
from tests.integration.engine_helpers import (
    assert_accounted,
    engine_settings,
    expected_card_codes,
    katana_list,
    luca_records,
    luca_state,
    run,
)

STORM = {
    "latency_ms": 5, "jitter_ms": 5, "slow_seconds": 2.5, "single_session_per_user": True, "seed": 11,
    "faults": {
        "session_expiry": {"probability": 0.1}, "html_login": {"probability": 0.1},
        "empty_error": {"probability": 0.1}, "bad_gateway": {"probability": 0.1},
        "reset": {"probability": 0.1}, "slow": {"probability": 0.03},
        "commit_then_fail": {"probability": 0.15, "mode": "random"}, "branch_loss": {"probability": 0.05},
    },
}  # fmt: skip


def _kill_sessions_during(sb: Sandbox, seconds: float, stop: threading.Event) -> None:
    deadline = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < deadline:
        time.sleep(1.0)
        sb.admin("luca", "POST", "sessions/kill")


@pytest.mark.slow
def test_fault_storm_ends_with_exactly_the_expected_records(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path, luca_timeout_s=1.0, retry_rounds=4)
    expected_cards = expected_card_codes(sandbox)
    customers = katana_list(sandbox, "customers")
    sandbox.admin("luca", "POST", "faults", STORM)
    stop = threading.Event()
    killer = threading.Thread(target=_kill_sessions_during, args=(sandbox, 120, stop), daemon=True)
    killer.start()
    try:
        cards = run(settings, "PRODUCT")
        custs = run(settings, "CUSTOMER")
        invoices = run(settings, "INVOICE")
    finally:
        stop.set()
        killer.join()
        injected = sandbox.admin("luca", "GET", "faults")
        sandbox.admin("luca", "POST", "faults", {"faults": {}})
    for summary in (cards, custs, invoices):
        assert_accounted(settings, summary)
    assert sum(injected.get("injected", {}).values()) > 20, injected
    state = luca_state(sandbox)
    assert state["stock_cards"]["duplicate_codes"] == []
    assert state["customers"]["duplicate_codes"] == []
    assert state["invoices"]["duplicate_tracking_numbers"] == []
    assert sorted(r["kartKodu"] for r in luca_records(sandbox, "stock_cards")) == sorted(expected_cards)
    assert sorted(r["kartKod"] for r in luca_records(sandbox, "customers")) == sorted(
        f"KTN-{c['id']}" for c in customers
    )
    assert custs["failed"] == 0
    # Every invoice either exists exactly once or failed for a data reason (never a transient one).
    transient = [f for f in invoices["failures"] if f["errorClass"] in ("TransientError", "SessionLost")]
    assert transient == []
    assert len(luca_records(sandbox, "invoices")) == invoices["created"] + invoices["adopted"]


def test_katana_budget_holds_with_more_pages_than_the_quota(redis_url: str, tmp_path: Path) -> None:
    # 5 requests per 2 s, and ~8 pages of variants: the engine must wait, never meet a 429.
    with start_sandbox("--katana-rate", "5/2", "--products", "500", "--variants-per-product", "4-4") as sb:
        settings = engine_settings(sb, redis_url, tmp_path, katana_rate_requests=5, katana_rate_window_s=2.0)
        summary = run(settings, "PRODUCT", dry_run=True)
        assert summary["katanaRequests"] >= 9
        assert summary["katanaRateLimited"] == 0
        stats = sb.admin("katana", "GET", "stats")
        assert stats["requests"]["rate_limited"] == 0, stats["requests"]


def test_empty_luca_list_with_a_full_cache_aborts_instead_of_recreating(
    sandbox: Sandbox, redis_url: str, tmp_path: Path
) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path)
    first = run(settings, "PRODUCT", limit=20)
    assert first["created"] > 0
    # Luca suddenly lists nothing (the origin's broken-session symptom): we must not re-create.
    sandbox.admin("luca", "POST", "reset")
    with pytest.raises(RunAborted, match="refusing to continue"):
        run(settings, "PRODUCT", limit=20)
    assert luca_state(sandbox)["stock_cards"]["count"] == 0
