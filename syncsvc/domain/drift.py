"""What differs between the Luca record we would write and the one Luca holds: field-level diffs.

Pure functions shared by reconciliation (drifted records) and dry runs (what an update would
change, what a create would write). Invoices are compared by their totals, which Luca computes
from the lines. Luca's list actions name fields differently from its create
actions and show VAT as a percentage (``"%20"``); text comes back in Windows-1254, so a character
it cannot hold reads as ``?``: we compare what we would send *after* that encoding, not raw.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

# Luca record kind (the sync-type registry's ``luca_record``) -> (report name, payload field, Luca
# list field, comparison)
DRIFT_FIELDS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "stockcard": (
        ("name", "kartAdi", "adi", "text"),
        ("salesPrice", "perakendeSatisBirimFiyat", "perakendeSatisBirimFiyat", "number"),
        ("purchasePrice", "perakendeAlisBirimFiyat", "perakendeAlisBirimFiyat", "number"),
        ("vat", "kartSatisKdvOran", "satisKdvOran", "vat"),
        ("unit", "olcumBirimiId", "olcumBirimiId", "number"),
    ),
    "customer": (("name", "tanim", "tanim", "text"),),
    # Totals Luca computes from the lines; compared with what our lines add up to.
    "invoice": (
        ("netTotal", "netTutar", "netTutar", "money"),
        ("vatTotal", "kdvTutar", "kdvTutar", "money"),
        ("total", "tutar", "tutar", "money"),
    ),
}
MONEY_TOLERANCE = Decimal("0.05")
"""Per-line rounding to kuruş can differ by a few kuruş from a total rounded once."""
CENT = Decimal("0.01")
MAX_CREATE_FIELDS = 30


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip().lstrip("%").replace(",", "."))
    except InvalidOperation:
        return None


def _fraction(value: Any) -> Decimal:
    number = _number(value) or Decimal(0)
    return number / 100 if number >= 1 else number


def invoice_totals(payload: Mapping[str, Any]) -> dict[str, Decimal]:
    """What the invoice's lines add up to: net (after the line discount), VAT, total."""
    net = vat = Decimal(0)
    for line in payload.get("detayList") or []:
        qty, price = _number(line.get("miktar")), _number(line.get("birimFiyat"))
        if qty is None or price is None:
            continue
        amount = (qty * price * (1 - _fraction(line.get("iskontoOran1")))).quantize(CENT)
        net += amount
        vat += (amount * _fraction(line.get("kdvOran"))).quantize(CENT)
    return {"netTutar": net, "kdvTutar": vat, "tutar": net + vat}


def same(comparison: str, ours: Any, theirs: Any) -> bool:
    if comparison == "text":
        sent = " ".join(str(ours or "").split()).encode("cp1254", errors="replace").decode("cp1254")
        return sent == " ".join(str(theirs or "").split())
    a, b = _number(ours), _number(theirs)
    if comparison == "money":
        # A list without totals (some Luca versions) proves nothing either way.
        return a is None or b is None or abs(a - b) <= MONEY_TOLERANCE
    if a is None or b is None:
        return a is None and b is None
    if comparison == "vat":
        a, b = (a * 100 if a < 1 else a), (b * 100 if b < 1 else b)
    return abs(a - b) < Decimal("0.005")


def drift(kind: str, payload: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [in Luca, from Katana]}`` for the compared fields that differ."""
    if kind == "invoice":
        payload = {**payload, **{k: float(v) for k, v in invoice_totals(payload).items()}}
    return {
        name: [row.get(luca_field), payload.get(field)]
        for name, field, luca_field, comparison in DRIFT_FIELDS.get(kind, ())
        if not same(comparison, payload.get(field), row.get(luca_field))
    }


def create_diff(payload: Mapping[str, Any]) -> dict[str, list[Any]]:
    """What a create would write: every plain field, ``[None, value]``."""
    out: dict[str, list[Any]] = {}
    for name, value in payload.items():
        if isinstance(value, str | int | float | bool) or value is None:
            if value not in (None, ""):
                out[name] = [None, value]
        elif isinstance(value, list):
            out[name] = [None, f"{len(value)} line(s)"]
        if len(out) >= MAX_CREATE_FIELDS:
            break
    return out
