"""Pure conversions shared by every mapping: the ONE canonical code function, numbers, dates.

``canonical_code`` is used by card creation, look-ups, cache keys and invoice lines alike. The
origin integration used two different normalisers for cards and invoice lines, so invoices
referenced codes that did not exist; there is exactly one here.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from syncsvc.domain.errors import MappingError

# Luca stores Windows-1254 and the origin lost Turkish letters and Ø in codes; codes are folded to
# ASCII so the key we send is the key Luca stores. (Names keep their letters: see mapping.py.)
_FOLD = str.maketrans({
    "ı": "i", "İ": "I", "ş": "s", "Ş": "S", "ğ": "g", "Ğ": "G", "ü": "u", "Ü": "U",
    "ö": "o", "Ö": "O", "ç": "c", "Ç": "C", "Ø": "O", "ø": "o", "ß": "SS", "Æ": "AE", "æ": "ae",
})  # fmt: skip
_ALLOWED = re.compile(r"[A-Z0-9][A-Z0-9 ._/+\-]*")
MAX_CODE_LENGTH = 50  # self-imposed (Luca's limit is undocumented); longer SKUs fail, never truncate

# Luca runs on Turkey time (UTC+3 all year since 2016).
TURKEY = timezone(timedelta(hours=3), "TRT")


def canonical_code(sku: object) -> str:
    """Turn a Katana SKU into the Luca ``kartKodu``. Raises MappingError when it can't.

    NFKC, Turkish letters and diacritics folded to ASCII, whitespace runs collapsed to one space,
    upper case. Codes never get invented, truncated or versioned.
    """
    if sku is None:
        raise MappingError("variant has no SKU; set a SKU in Katana (no code is invented)")
    if not isinstance(sku, str):
        raise MappingError(f"SKU must be text, got {type(sku).__name__}")
    text = unicodedata.normalize("NFKC", sku).translate(_FOLD)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = " ".join(text.split()).upper()
    if not text:
        raise MappingError("variant has an empty SKU; set a SKU in Katana (no code is invented)")
    if len(text) > MAX_CODE_LENGTH:
        raise MappingError(f"SKU {sku!r} is longer than {MAX_CODE_LENGTH} characters after normalising")
    if not _ALLOWED.fullmatch(text):
        bad = sorted({c for c in text if not _ALLOWED.fullmatch("A" + c)})
        raise MappingError(f"SKU {sku!r} has characters a Luca code can't carry: {''.join(bad)!r}")
    return text


_ASCII_INT = re.compile(r"-?[0-9]+")


def as_int(value: object) -> int | None:
    """An integer id from a JSON number or numeric string, else None. ``str.isdigit`` is not
    enough: it accepts "²" and other digits ``int()`` refuses."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _ASCII_INT.fullmatch(value.strip()):
        return int(value.strip())
    return None


def to_decimal(value: object, field: str, default: Decimal | None = None) -> Decimal:
    """Katana sends decimals as JSON numbers or strings ("1.00000"); accept both, reject junk."""
    if value is None or value == "":
        if default is not None:
            return default
        raise MappingError(f"{field} is missing")
    if isinstance(value, bool):
        raise MappingError(f"{field} must be a number, got a boolean")
    try:
        number = Decimal(str(value).strip()) if isinstance(value, str | int | float | Decimal) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise MappingError(f"{field} must be a number, got {value!r}")
    return number


MAX_MAGNITUDE = Decimal("1e15")  # beyond any real quantity or price; Luca's limits are unknown


def luca_number(value: Decimal, places: int = 4) -> float:
    """Luca takes JSON numbers with a '.' separator; round so binary floats don't leak digits."""
    if not value.is_finite() or abs(value) >= MAX_MAGNITUDE:
        raise MappingError(f"number {value} is out of range for Luca")
    return float(round(value, places))


def parse_katana_time(value: object, field: str) -> datetime:
    """Parse Katana's ISO-8601 UTC timestamps ("2021-02-04T07:40:24.754Z")."""
    if not isinstance(value, str) or not value:
        raise MappingError(f"{field} is missing or not a timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MappingError(f"{field} is not an ISO-8601 timestamp: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def luca_date(moment: datetime | date) -> str:
    """Luca wants dd/MM/yyyy (ISO dates are rejected), in Turkey's calendar day."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(TURKEY).date()
    return moment.strftime("%d/%m/%Y")


def text(value: Any, limit: int | None = None) -> str:
    """Clean free text for Luca: str, collapsed whitespace, optional length cap (names only)."""
    if value is None:
        return ""
    cleaned = " ".join(str(value).split())
    return cleaned[:limit] if limit else cleaned
