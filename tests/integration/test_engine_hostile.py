"""A whole PRODUCT run over hostile Katana data (numbers as strings, nasty SKUs and names) ends
with one outcome per item: hostile items fail with a reason or map, the batch never crashes."""

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

HOSTILE = [
    {"sku": None},
    {"sku": ""},
    {"sku": "   "},
    {"sku": "X" * 5000},
    {"sku": "\u202eRTL-\u200bZW"},
    {"sku": "🧨-BOOM"},
    {"sku": "a\x00b"},
    {"sku": "ŞİĞ-ÇÖÜ-ışğ"},
    {"sku": "12345", "sales_price": "not a number"},
    {"sku": "DUP-1"},
    {"sku": "dup-1 "},
    {"sku": "OK-NAN", "sales_price": "NaN", "purchase_price": "1e309"},
]


def test_hostile_variants_never_crash_the_batch(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    sandbox.admin("katana", "POST", "faults", {"numbers_as_strings": True})
    variants = katana_list(sandbox, "variants")[: len(HOSTILE)]
    for variant, change in zip(variants, HOSTILE, strict=True):
        sandbox.admin("katana", "PATCH", f"variants/{variant['id']}", change)
    settings = engine_settings(sandbox, redis_url, tmp_path)
    summary = run(settings, "PRODUCT")
    assert_accounted(settings, summary)
    assert summary["total"] >= len(variants)
    hostile_keys = {f"variant:{v['id']}" for v in variants}
    failures = {f["key"]: f for f in summary["failures"]}
    assert len(hostile_keys & failures.keys()) >= 4  # at least the SKU-less ones and the collision
    # Each hostile item either failed with a reason that is not a crash, or made a card.
    for key in hostile_keys & failures.keys():
        assert failures[key]["errorClass"] in ("MappingError", "ConflictError", "BusinessError"), failures[key]
        assert failures[key]["message"]
    assert summary["created"] + summary["adopted"] == len(luca_records(sandbox, "stock_cards"))
    assert luca_state(sandbox)["stock_cards"]["duplicate_codes"] == []
