"""Incremental runs against the simulators: cursor, gone outcome, retry set, paging while data changes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis

from sandbox.testing import Sandbox
from syncsvc.domain.convert import canonical_code
from syncsvc.store.cursors import Cursors, parse
from syncsvc.store.history import open_history
from syncsvc.store.retryset import RetrySet
from tests.integration.engine_helpers import (
    assert_accounted,
    engine_settings,
    expected_card_codes,
    katana_list,
    luca_records,
    luca_writes,
    run,
)

WRITES = {"created", "updated", "adopted"}


def katana(sb: Sandbox, method: str, path: str, body: Any = None) -> Any:
    return sb.admin("katana", method, path, body)


def card_prices(sb: Sandbox) -> dict[str, Decimal]:
    return {
        r["kartKodu"]: Decimal(str(r.get("perakendeSatisBirimFiyat") or 0)) for r in luca_records(sb, "stock_cards")
    }


def katana_prices(sb: Sandbox) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for v in katana_list(sb, "variants"):
        try:
            out[canonical_code(v.get("sku"))] = Decimal(str(v.get("sales_price") or 0))
        except Exception:  # noqa: BLE001 - null/colliding SKUs are not cards
            continue
    return out


def synced_variants(sb: Sandbox) -> list[dict[str, Any]]:
    """Katana variants that have their own card in Luca (not null or colliding SKUs)."""
    cards = {r["kartKodu"] for r in luca_records(sb, "stock_cards")}
    return [v for v in katana_list(sb, "variants") if v.get("sku") and canonical_code(v["sku"]) in cards]


def test_incremental_run_reads_and_writes_only_the_changes(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path)
    first = run(settings, "PRODUCT", mode=None)
    assert first["mode"] == "full" and first["cursorBefore"] is None and first["cursorAfter"]

    cards_before = {r["kartKodu"] for r in luca_records(sandbox, "stock_cards")}
    variants = [
        v for v in katana_list(sandbox, "variants") if v.get("sku") and canonical_code(v["sku"]) in cards_before
    ]
    changed = variants[:3]
    for v in changed:
        katana(sandbox, "PATCH", f"variants/{v['id']}", {"sales_price": 777.5})
    katana(sandbox, "POST", "products", {"name": "Artımlı Ürün", "variants": [{"sku": "INC-1"}, {"sku": "INC-2"}]})
    deleted = variants[5]
    katana(sandbox, "DELETE", f"variants/{deleted['id']}")
    touched = {v["id"] for v in changed} | {deleted["id"]}
    archived = next(
        p for p in katana_list(sandbox, "products") if len(p["variants"]) == 1 and p["variants"][0]["id"] not in touched
    )
    katana(sandbox, "PATCH", f"products/{archived['id']}", {"is_archived": True})
    writes_before = luca_writes(sandbox)

    second = run(settings, "PRODUCT", mode=None)
    assert_accounted(settings, second)
    assert second["mode"] == "incremental" and second["cursorBefore"] == first["cursorAfter"]
    assert second["cursorAfter"] >= first["cursorAfter"]
    # Generated data older than the change window is not read; what was (failed before, in the
    # retry set, or updated after the cursor) is skipped or fails again without a Luca write.
    assert luca_writes(sandbox) - writes_before == 5
    assert second["katanaRequests"] <= 4  # variants and services pages, retry-set ids
    history = open_history(settings.history_db)
    try:
        row = history.get_run(second["runId"])
        assert row is not None and row["mode"] == "incremental" and row["cursor_after"] == second["cursorAfter"]
        items, _ = history.list_items(second["runId"], limit=1000)
        outcome = {i["item_key"]: i["outcome"] for i in items}
    finally:
        history.close()
    assert [outcome[canonical_code(v["sku"])] for v in changed] == ["updated"] * 3
    assert outcome["INC-1"] == outcome["INC-2"] == "created"
    assert outcome[f"variant:{deleted['id']}"] == outcome[f"variant:{archived['variants'][0]['id']}"] == "gone"
    assert second["updated"] == 3 and second["created"] == 2
    # Deleted and archived in Katana: reported, never deleted in Luca.
    assert cards_before <= {r["kartKodu"] for r in luca_records(sandbox, "stock_cards")}

    third = run(settings, "PRODUCT", mode="full")
    assert third["mode"] == "full" and third["created"] == third["updated"] == 0


def test_failed_items_come_back_through_the_retry_set(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path, retry_rounds=0, max_attempts=1)
    run(settings, "PRODUCT", mode=None)
    variants = synced_variants(sandbox)[:4]
    for v in variants:
        katana(sandbox, "PATCH", f"variants/{v['id']}", {"sales_price": 123.25})
    # Luca refuses every card write for one run: the cursor still moves (the failures are recorded).
    card_writes = ["GuncelleStkWsSkart", "EkleStkWsSkart"]
    sandbox.admin("luca", "POST", "faults", {"faults": {"bad_gateway": {"probability": 1.0, "actions": card_writes}}})
    failing = run(settings, "PRODUCT", mode=None)
    assert failing["mode"] == "incremental"
    conn = redis.Redis.from_url(redis_url)
    retry = RetrySet(conn, "t", "PRODUCT")
    ours = {f"variant:{v['id']}" for v in variants}
    assert ours <= {e["ref"] for e in retry.entries().values()}
    assert {e["errorClass"] for e in retry.entries().values() if e["ref"] in ours} == {"TransientError"}
    assert Cursors(conn, "t").get("PRODUCT") is not None

    # Later runs moved the cursor past the four changes (simulated: the clock moves on and the
    # cursor with it), so only the retry set brings them back; the resolved one stays away.
    katana(sandbox, "POST", "clock", {"advance_seconds": 3600})
    Cursors(conn, "t").advance("PRODUCT", parse(katana(sandbox, "GET", "clock")["now"]) or datetime.now(UTC))
    sandbox.admin("luca", "POST", "faults", {"faults": {}})
    resolved_key = next(k for k, e in retry.entries().items() if e["ref"] in ours)
    assert retry.resolve(resolved_key, "fixed by hand in Luca")
    before = retry.size()
    healing = run(settings, "PRODUCT", mode=None)
    assert healing["updated"] == 3 and healing["refetched"] >= before
    left = {e["ref"] for e in retry.entries().values()}
    assert not left & ours and set(retry.resolved()) == {resolved_key}
    # What is left failed for good reasons (no SKU, colliding SKUs) and keeps being reported.
    assert {e["errorClass"] for e in retry.entries().values()} <= {"MappingError", "ConflictError"}
    conn.close()


def test_no_row_lost_when_katana_changes_while_paging(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    """Katana pages newest-created first; edits made while we page land on pages already read.

    With no overlap at all, the cursor (highest updated_at seen minus the scan's duration) still
    brings every such edit into the next run, and Luca ends with Katana's prices."""
    sandbox.admin("katana", "POST", "reset", {"products": 240, "variants_per_product": "2-4"})
    settings = engine_settings(sandbox, redis_url, tmp_path, incremental_overlap_s=0.0)
    run(settings, "PRODUCT", mode=None)
    # Touch every product: its variants (~700, three pages of 250) enter the next window.
    for product in katana_list(sandbox, "products"):
        katana(sandbox, "PATCH", f"products/{product['id']}", {"category_name": "Yeni Kategori"})
    sandbox.admin("katana", "POST", "faults", {"mutate_during_paging": True})
    during = run(settings, "PRODUCT", mode=None)
    assert during["mode"] == "incremental"
    assert_accounted(settings, during)
    assert katana(sandbox, "GET", "stats")["paging_mutations"] >= 3
    sandbox.admin("katana", "POST", "faults", {"mutate_during_paging": False})
    after = run(settings, "PRODUCT", mode=None)
    assert after["mode"] == "incremental"
    unique = expected_card_codes(sandbox)
    expected = {code: price for code, price in katana_prices(sandbox).items() if code in unique}
    assert len(expected) > 500
    held = card_prices(sandbox)
    wrong = {code: (held.get(code), price) for code, price in expected.items() if held.get(code) != price}
    assert wrong == {}


def test_crashed_run_leaves_the_cursor(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path, retry_rounds=0, max_attempts=1)
    first = run(settings, "PRODUCT", mode=None)
    variant = synced_variants(sandbox)[0]
    katana(sandbox, "PATCH", f"variants/{variant['id']}", {"sales_price": 5})
    conn = redis.Redis.from_url(redis_url)
    conn.hset("t:luca:stockcard:meta", "warmed_epoch", 0)  # force the Luca list, then break it
    sandbox.admin(
        "luca", "POST", "faults", {"faults": {"bad_gateway": {"probability": 1.0, "actions": ["ListeleStkSkart"]}}}
    )
    try:
        run(settings, "PRODUCT", mode=None)
        raise AssertionError("the run should have failed")
    except Exception as exc:  # noqa: BLE001 - any systemic failure will do
        assert "Luca" in str(exc) or "502" in str(exc) or "list" in str(exc).lower()
    assert Cursors(conn, "t").get("PRODUCT") is not None
    assert Cursors(conn, "t").key("PRODUCT")
    assert conn.get("t:cursor:PRODUCT").decode() == first["cursorAfter"]
    sandbox.admin("luca", "POST", "faults", {"faults": {}})
    healed = run(settings, "PRODUCT", mode=None)
    assert healed["updated"] == 1
    conn.close()


def test_incremental_invoice_creates_the_customer_and_cards(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path)
    first = run(settings, "INVOICE", mode=None)
    assert first["mode"] == "full"
    with_sku = next(v for v in katana_list(sandbox, "variants") if v.get("sku"))
    import requests

    resp = requests.post(
        f"{sandbox.katana_url}/v1/customers",
        json={"name": "Yeni Müşteri AŞ", "reference_id": "1234567890"},
        headers={"Authorization": "Bearer demo-katana-key"},
        timeout=10,
    )
    customer = resp.json()
    product = katana(sandbox, "POST", "products", {"name": "Fatura Ürünü", "variants": [{"sku": "INV-NEW-1"}]})
    order = katana(
        sandbox,
        "POST",
        "sales_orders",
        {
            "customer_id": customer["id"],
            "rows": [
                {"variant_id": product["variants"][0]["id"], "quantity": 2, "price_per_unit": 10},
                {"variant_id": with_sku["id"], "quantity": 1, "price_per_unit": 5},
            ],
        },
    )
    katana(sandbox, "POST", f"sales_orders/{order['id']}/deliver")
    second = run(settings, "INVOICE", mode=None)
    assert second["mode"] == "incremental" and second["created"] == 1
    # The failures are the full run's (unresolvable orders), fetched again from the retry set.
    assert second["failed"] == first["failed"] and second["refetched"] == first["failed"]
    assert second["ensured"]["customers"] == {"created": 1}
    assert second["ensured"]["stockCards"].get("created", 0) >= 1
    assert "INV-NEW-1" in {r["kartKodu"] for r in luca_records(sandbox, "stock_cards")}
