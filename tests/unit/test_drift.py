"""Field-level drift between what we would write to Luca and what its list shows."""

from __future__ import annotations

from syncsvc.domain.drift import create_diff, drift, same

PAYLOAD = {
    "kartKodu": "TEK-0004",
    "kartAdi": "Işıklı Keten Gömlek D004",
    "perakendeSatisBirimFiyat": 4180.48,
    "perakendeAlisBirimFiyat": 2675.51,
    "kartSatisKdvOran": 0.2,
    "olcumBirimiId": 5,
}
ROW = {
    "kod": "TEK-0004",
    "adi": "Işıklı Keten Gömlek D004",
    "perakendeSatisBirimFiyat": "4180.480",
    "perakendeAlisBirimFiyat": 2675.51,
    "satisKdvOran": "%20",
    "olcumBirimiId": 5,
}


def test_a_card_as_luca_lists_it_has_no_drift() -> None:
    assert drift("stockcard", PAYLOAD, ROW) == {}


def test_each_field_that_differs_is_reported_luca_value_first() -> None:
    row = {**ROW, "adi": "Elle değişti", "satisKdvOran": "%10", "perakendeSatisBirimFiyat": 4000}
    assert drift("stockcard", PAYLOAD, row) == {
        "name": ["Elle değişti", "Işıklı Keten Gömlek D004"],
        "salesPrice": [4000, 4180.48],
        "vat": ["%10", 0.2],
    }


def test_text_luca_cannot_hold_is_compared_as_luca_stores_it() -> None:
    # Windows-1254 has no '✓': Luca answers '?' for it, which is not drift.
    assert same("text", "Onaylı ✓", "Onaylı ?")
    assert not same("text", "Onaylı ✓", "Onaysız ?")
    assert same("number", None, None) and not same("number", 1, None)


def test_a_create_shows_every_plain_field_as_new() -> None:
    diff = create_diff({**PAYLOAD, "detayList": [{}, {}], "barkod": None})
    assert diff["kartAdi"] == [None, "Işıklı Keten Gömlek D004"]
    assert diff["detayList"] == [None, "2 line(s)"] and "barkod" not in diff
