"""CUSTOMER and INVOICE syncs: exact records, dependencies ensured, tracking numbers unique."""

from __future__ import annotations

from pathlib import Path

from sandbox.testing import Sandbox
from tests.integration.engine_helpers import (
    assert_accounted,
    engine_settings,
    katana_list,
    luca_records,
    luca_state,
    luca_writes,
    run,
)


def test_customers_once_each_and_rerun_skips(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path)
    customers = katana_list(sandbox, "customers")
    first = run(settings, "CUSTOMER")
    assert_accounted(settings, first)
    codes = sorted(r["kartKod"] for r in luca_records(sandbox, "customers"))
    assert codes == sorted(f"KTN-{c['id']}" for c in customers)
    assert first["created"] == len(customers) and first["failed"] == 0
    writes = luca_writes(sandbox)
    second = run(settings, "CUSTOMER")
    assert second["skipped"] == len(customers) and luca_writes(sandbox) == writes


def test_invoices_ensure_their_cari_and_cards_first(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path)
    delivered = katana_list(sandbox, "sales_orders", status="DELIVERED")
    summary = run(settings, "INVOICE")  # cold Luca: no cari, no cards yet
    assert_accounted(settings, summary)
    assert summary["total"] == len(delivered)
    assert summary["ensured"]["customers"].get("created", 0) > 0
    assert summary["ensured"]["stockCards"].get("created", 0) > 0
    invoices = luca_records(sandbox, "invoices")
    assert len(invoices) == summary["created"] > 0
    tracking = sorted(i["belgeTakipNo"] for i in invoices)
    assert tracking == sorted({f"KTN-SO-{o['id']}" for o in delivered} & set(tracking))
    assert luca_state(sandbox)["invoices"]["duplicate_tracking_numbers"] == []
    # Failures name their reason (e.g. a row whose variant has no SKU).
    for failure in summary["failures"]:
        assert failure["message"]
    writes = luca_writes(sandbox)
    again = run(settings, "INVOICE")
    assert again["created"] == 0 and luca_writes(sandbox) == writes


def test_a_new_delivery_is_invoiced_next_run(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path)
    run(settings, "INVOICE")
    variant = next(v for v in katana_list(sandbox, "variants") if v.get("sku"))
    customer = katana_list(sandbox, "customers")[0]
    order = sandbox.admin(
        "katana",
        "POST",
        "sales_orders",
        {"customer_id": customer["id"], "rows": [{"variant_id": variant["id"], "quantity": 2, "price_per_unit": 10}]},
    )
    sandbox.admin("katana", "POST", f"sales_orders/{order['id']}/deliver")
    summary = run(settings, "INVOICE")
    assert summary["created"] == 1
    posted = [i for i in luca_records(sandbox, "invoices") if i["belgeTakipNo"] == f"KTN-SO-{order['id']}"]
    assert len(posted) == 1 and posted[0]["cariKodu"] == f"KTN-{customer['id']}"
