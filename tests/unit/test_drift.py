"""Field-level drift between what we would write to Luca and what its list shows."""

from __future__ import annotations

from syncsvc.domain.drift import create_diff, drift, invoice_totals, same

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


def test_invoice_totals_are_what_the_lines_add_up_to() -> None:
    payload = {
        "detayList": [
            {"miktar": 3, "birimFiyat": 10.005, "kdvOran": 0.2},
            {"miktar": 1, "birimFiyat": 100, "kdvOran": 0.1, "iskontoOran1": 0.1},
        ]
    }
    assert {k: float(v) for k, v in invoice_totals(payload).items()} == {
        "netTutar": 120.02,
        "kdvTutar": 15.0,
        "tutar": 135.02,
    }
    assert drift("invoice", payload, {"netTutar": 120.02, "kdvTutar": 15.0, "tutar": 135.02}) == {}
    assert drift("invoice", payload, {"netTutar": 120.02, "kdvTutar": 15.0, "tutar": 150}) == {"total": [150, 135.02]}
    assert drift("invoice", payload, {"belgeTakipNo": "KTN-SO-1"}) == {}  # a list without totals
