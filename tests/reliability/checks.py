"""What Luca and the run history must hold after a scenario: exactly the expected records, no
duplicates, and one outcome per item in SQLite. Returns figures for the report table."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sandbox.testing import Sandbox
from syncsvc.domain.model import OUTCOMES
from syncsvc.store.history import open_history
from tests.integration.engine_helpers import expected_card_codes, katana_list, luca_records
from tests.reliability.stack import delivered_orders, luca_duplicates

# Failures that retrying could have fixed: after a converged run none may remain.
TRANSIENT = {"TransientError", "RateLimited", "SessionLost", "SessionExpired", "RunAborted"}


def accounted(history_db: str, run_id: str) -> dict[str, Any]:
    """The run finished and every item has exactly one outcome whose counts match the run row."""
    history = open_history(history_db)
    try:
        run = history.get_run(run_id)
        assert run is not None and run["status"] == "finished", run
        items, total = history.list_items(run_id, limit=1_000_000)
        keys = [i["item_key"] for i in items]
        assert len(keys) == len(set(keys)) == total == run["total"], (len(keys), total, run["total"])
        counts = Counter(i["outcome"] for i in items)
        for outcome in OUTCOMES:
            assert counts.get(outcome, 0) == run[outcome], (outcome, counts, run)
        # A DependencyError quotes the failure of the cari or card it needed: that must be a data one too.
        transient = [
            i for i in items
            if i["outcome"] == "failed"
            and (i["error_class"] in TRANSIENT or any(f"({t}:" in (i["message"] or "") for t in TRANSIENT))
        ]  # fmt: skip
        assert transient == [], transient[:5]
        return {
            "items": total,
            "failed_items": {i["item_key"]: i["error_class"] for i in items if i["outcome"] == "failed"},
        }
    finally:
        history.close()


def assert_luca_exact(sb: Sandbox, invoice_failures: dict[str, str] | None = None) -> dict[str, int]:
    """Luca holds exactly one card per valid SKU, one cari per Katana customer and one invoice per
    delivered order (bar orders that failed for a data reason). Returns figures."""
    dups = luca_duplicates(sb)
    assert dups == {"stock_cards": [], "customers": [], "invoices": []}, dups

    cards = [r["kartKodu"] for r in luca_records(sb, "stock_cards")]
    expected_cards = expected_card_codes(sb)
    if invoice_failures is not None:
        # An invoice also needs cards for what it sold, e.g. a service archived in Katana since.
        expected_cards |= {line["kartKodu"] for r in luca_records(sb, "invoices") for line in r["detayList"]}
    assert sorted(cards) == sorted(expected_cards), _diff(cards, expected_cards)

    customers = [r["kartKod"] for r in luca_records(sb, "customers")]
    expected_customers = {f"KTN-{c['id']}" for c in katana_list(sb, "customers")}
    assert sorted(customers) == sorted(expected_customers), _diff(customers, expected_customers)

    figures = {"cards": len(cards), "customers": len(customers), "duplicates": 0, "lost": 0}
    if invoice_failures is not None:
        orders = delivered_orders(sb)
        # Invoice items are keyed by tracking number, or "order:<id>" when the order could not be mapped.
        failed = {f"KTN-SO-{k.removeprefix('order:')}" if k.startswith("order:") else k for k in invoice_failures}
        expected_invoices = {f"KTN-SO-{o['id']}" for o in orders} - failed
        invoices = [r["belgeTakipNo"] for r in luca_records(sb, "invoices")]
        assert sorted(invoices) == sorted(expected_invoices), _diff(invoices, expected_invoices)
        figures.update(invoices=len(invoices), orders=len(orders))
    return figures


def _diff(actual: list[str], expected: set[str]) -> str:
    have = Counter(actual)
    missing = sorted(expected - have.keys())
    extra = sorted(have.keys() - expected)
    doubled = sorted(k for k, n in have.items() if n > 1)
    return f"missing {len(missing)} {missing[:10]}; unexpected {len(extra)} {extra[:10]}; doubled {doubled[:10]}"
