"""Number and timestamp encoding in the real Katana API's wire style.

Katana returns decimals inconsistently: some fields as JSON numbers, others as decimal strings with
a fixed number of places (SO row ``quantity`` "1.00000", ``price_per_unit`` "1250.0000000000").
The simulator stores records already in wire form, so the choice is made once, at generation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

TWO = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    """Round to cents, half up (what an accountant expects for totals and tax)."""
    return value.quantize(TWO, rounding=ROUND_HALF_UP)


def dec_str(value: Decimal | float | int | str, places: int) -> str:
    """A decimal string with a fixed number of places, e.g. ``dec_str(1250, 10)``."""
    return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def num(value: Decimal | float | int | str) -> int | float:
    """A JSON number as a JavaScript server prints it: ``1500`` not ``1500.0``."""
    d = Decimal(str(value))
    if d == d.to_integral_value():
        return int(d)
    return float(d)


def to_decimal(value: Any) -> Decimal:
    """Read a wire number that may be a JSON number or a decimal string."""
    return Decimal(str(value))


def _is_identifier(key: str) -> bool:
    return key == "id" or key.endswith(("_id", "_ids"))


def stringify_numbers(obj: Any, key: str = "") -> Any:
    """The ``--katana-numbers-as-strings`` fuzz mode: every numeric field becomes a string.

    Identifiers (``id``, ``*_id``) stay integers: every source agrees they are integers, and the
    fuzz is about decimals, not about breaking joins.
    """
    if isinstance(obj, dict):
        return {k: stringify_numbers(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [stringify_numbers(v, key) for v in obj]
    if isinstance(obj, bool) or obj is None or _is_identifier(key):
        return obj
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        return repr(obj)
    return obj


def iso(dt: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z``, like ``2021-02-04T07:40:24.754Z``.

    Every timestamp the simulator stores has this exact shape, so timestamps compare correctly
    as plain strings (the list filters rely on that).
    """
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime | None:
    """Parse a filter value: ISO-8601 with or without millis/zone, or a bare date (UTC)."""
    text = text.strip()
    if not text:
        return None
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
