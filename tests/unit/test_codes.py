"""The one canonical code function and the number/date helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from syncsvc.domain.convert import canonical_code, luca_date, parse_katana_time, to_decimal
from syncsvc.domain.errors import MappingError


@pytest.mark.parametrize(
    ("sku", "code"),
    [
        ("abc-01", "ABC-01"),
        ("  çay   bardağı ", "CAY BARDAGI"),
        ("ŞİŞE-ı", "SISE-I"),
        ("Ø12-vida", "O12-VIDA"),
        ("ｆｕｌｌ１", "FULL1"),  # NFKC folds full-width letters
        ("81.06301-8211", "81.06301-8211"),  # dots are kept (the origin's line normaliser dropped them)
        ("café", "CAFE"),
    ],
)
def test_canonical_code(sku: str, code: str) -> None:
    assert canonical_code(sku) == code


@pytest.mark.parametrize("sku", [None, "", "   ", "a" * 51, "bad\x00code", "emoji-🙂", 12345])
def test_canonical_code_refuses_what_it_cannot_carry(sku: object) -> None:
    with pytest.raises(MappingError):
        canonical_code(sku)


def test_codes_that_differ_only_by_case_or_turkish_letters_collide() -> None:
    assert canonical_code("çay-01") == canonical_code("CAY-01")


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1.00000", Decimal(1)), (2, Decimal(2)), (2.5, Decimal("2.5")), ("1250.0000000000", Decimal(1250))],
)
def test_decimals_arrive_as_numbers_or_strings(raw: object, value: Decimal) -> None:
    assert to_decimal(raw, "x") == value


@pytest.mark.parametrize("raw", ["abc", True, "NaN", "Infinity", [1], {"a": 1}])
def test_decimal_junk_is_a_mapping_error(raw: object) -> None:
    with pytest.raises(MappingError):
        to_decimal(raw, "price")


def test_luca_dates_are_turkish_calendar_days() -> None:
    # 22:30 UTC is already the next day in Turkey (UTC+3).
    moment = parse_katana_time("2026-01-31T22:30:00.000Z", "t")
    assert moment == datetime(2026, 1, 31, 22, 30, tzinfo=UTC)
    assert luca_date(moment) == "01/02/2026"


def test_absurd_numbers_fail_the_item_instead_of_crashing() -> None:
    from syncsvc.domain.convert import luca_number

    with pytest.raises(MappingError, match="out of range"):
        luca_number(Decimal("1e23"))
    assert luca_number(Decimal("2.123456789"), 4) == 2.1235
