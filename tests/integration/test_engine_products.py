"""PRODUCT sync against the simulators: exact card set, idempotent re-runs, change detection."""

from __future__ import annotations

from pathlib import Path

import redis

from sandbox.testing import Sandbox
from syncsvc.domain.convert import canonical_code
from tests.integration.engine_helpers import (
    assert_accounted,
    engine_settings,
    expected_card_codes,
    katana_list,
    luca_records,
    luca_state,
    luca_writes,
    run,
)
from tests.redisdb import wipe


def test_clean_sync_then_no_writes_then_exactly_the_changes(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path)
    expected = expected_card_codes(sandbox)
    assert len(expected) > 50

    first = run(settings, "PRODUCT")
    assert_accounted(settings, first)
    codes = [r["kartKodu"] for r in luca_records(sandbox, "stock_cards")]
    assert sorted(codes) == sorted(expected)  # exactly one card per valid SKU, nothing else
    assert first["created"] == len(expected)
    assert luca_state(sandbox)["stock_cards"]["duplicate_codes"] == []
    # Null SKUs and colliding SKUs are reported, not invented or merged.
    assert first["failed"] == first["total"] - len(expected) > 0
    reasons = " ".join(f["message"] for f in first["failures"])
    assert "no SKU" in reasons and "several Katana SKUs" in reasons

    # Luca stored some names through Windows-1254 ("?" for ⌀, Φ...); the re-run must still see
    # them as unchanged, because digests cover what we sent, not what Luca echoes.
    names = [r["kartAdi"] for r in luca_records(sandbox, "stock_cards")]
    assert any("?" in n for n in names) and any(c in "".join(names) for c in "ışğüöçİŞĞÜÖÇ")

    writes_before = luca_writes(sandbox)
    second = run(settings, "PRODUCT")
    assert luca_writes(sandbox) == writes_before  # zero Luca writes
    assert second["skipped"] == len(expected) and second["created"] == second["updated"] == 0

    changed = [v for v in katana_list(sandbox, "variants") if v.get("sku")][:3]
    for v in changed:
        sandbox.admin("katana", "PATCH", f"variants/{v['id']}", {"sales_price": 999.5})
    third = run(settings, "PRODUCT")
    assert third["updated"] == 3 and third["created"] == 0
    assert luca_writes(sandbox) == writes_before + 3
    updated = {r["kartKodu"]: r for r in luca_records(sandbox, "stock_cards")}
    for v in changed:
        assert float(updated[canonical_code(v["sku"])]["perakendeSatisBirimFiyat"]) == 999.5


def test_flushed_cache_adopts_instead_of_duplicating(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path)
    first = run(settings, "PRODUCT", limit=40)
    wipe(redis.Redis.from_url(redis_url))
    again = run(settings, "PRODUCT", limit=40)
    assert again["created"] == 0
    assert again["adopted"] == first["created"]
    state = luca_state(sandbox)
    assert state["stock_cards"]["count"] == first["created"]
    assert state["stock_cards"]["duplicate_codes"] == []


def test_dry_run_writes_nothing_and_reports_intent(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path)
    summary = run(settings, "PRODUCT", limit=15, dry_run=True)
    assert summary["dryRun"] and summary["created"] + summary["failed"] == summary["total"] == 15
    assert luca_writes(sandbox) == 0
    assert luca_state(sandbox)["stock_cards"]["count"] == 0


def test_nothing_is_ever_written_to_katana(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path)
    sandbox.admin("katana", "DELETE", "requests")
    run(settings, "PRODUCT", limit=30)
    run(settings, "CUSTOMER", limit=10)
    run(settings, "INVOICE", limit=5)
    methods = {r["method"] for r in sandbox.admin("katana", "GET", "requests")["requests"]}
    assert methods == {"GET"}


def test_a_conflict_fixed_in_katana_syncs_on_the_next_run(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path)
    by_code: dict[str, list[dict[str, object]]] = {}
    for v in katana_list(sandbox, "variants"):
        try:
            by_code.setdefault(canonical_code(v.get("sku")), []).append(v)
        except Exception:  # noqa: BLE001 - null SKUs are not part of this test
            continue
    code, pair = next((c, vs) for c, vs in by_code.items() if len(vs) == 2)
    run(settings, "PRODUCT")
    assert code not in {r["kartKodu"] for r in luca_records(sandbox, "stock_cards")}
    sandbox.admin("katana", "PATCH", f"variants/{pair[0]['id']}", {"sku": f"{pair[0]['sku']}-FIXED"})
    second = run(settings, "PRODUCT")
    held = {r["kartKodu"] for r in luca_records(sandbox, "stock_cards")}
    assert code in held and canonical_code(f"{pair[0]['sku']}-FIXED") in held
    assert second["created"] == 2
