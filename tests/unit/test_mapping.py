"""Pure Katana -> Luca mapping, including hostile input (hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from jobs.prepare import card_items
from syncsvc.domain.errors import ConflictError, MappingError
from syncsvc.domain.mapping import LucaTenant, map_customer, map_invoice, map_stock_card
from syncsvc.settings import Settings

SETTINGS = Settings()
TENANT = LucaTenant(units={"adet": 945, "kg": 2, "metre": 3, "m2": 6})


def variant(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 3001,
        "sku": "vida-m8",
        "sales_price": "12.5000000000",
        "purchase_price": 7,
        "created_at": "2026-03-01T10:00:00.000Z",
        "internal_barcode": "869000000001",
        "type": "product",
        "config_attributes": [{"config_name": "Boy", "config_value": "50 mm"}],
        "product_or_material": {
            "id": 10,
            "name": "Çelik Vida",
            "uom": "pcs",
            "category_name": "Bağlantı",
            "type": "product",
            "is_sellable": True,
            "is_purchasable": True,
        },
    }
    base.update(over)
    return base


def test_variant_becomes_a_stock_card() -> None:
    plan = map_stock_card(variant(), SETTINGS, TENANT)
    p = plan.payload
    assert plan.key == p["kartKodu"] == "VIDA-M8"
    assert p["kartAdi"] == "Çelik Vida (50 mm)"
    assert p["kartTuru"] == 1 and p["olcumBirimiId"] == 945
    assert p["baslangicTarihi"] == "01/03/2026"
    assert p["perakendeSatisBirimFiyat"] == 12.5 and p["perakendeAlisBirimFiyat"] == 7.0
    assert p["kartSatisKdvOran"] == 0.2 and p["barkod"] == "869000000001"
    assert plan.digest == map_stock_card(variant(), SETTINGS, TENANT).digest


def test_digest_changes_with_content() -> None:
    assert (
        map_stock_card(variant(), SETTINGS, TENANT).digest
        != map_stock_card(variant(sales_price="13"), SETTINGS, TENANT).digest
    )


def test_service_variant_is_a_service_card() -> None:
    v = variant(type="service", product_or_material={"name": "Nakliye", "uom": "adet", "type": "service"})
    assert map_stock_card(v, SETTINGS, TENANT).payload["kartTuru"] == 2


def test_unmapped_unit_names_the_setting_to_change() -> None:
    v = variant(product_or_material={"name": "X", "uom": "furlong"})
    with pytest.raises(MappingError, match="SYNC_UNIT_MAP"):
        map_stock_card(v, SETTINGS, TENANT)


def test_null_sku_fails_instead_of_inventing_a_code() -> None:
    with pytest.raises(MappingError, match="no SKU"):
        map_stock_card(variant(sku=None), SETTINGS, TENANT)


def test_colliding_skus_are_a_reported_conflict_not_a_merge() -> None:
    items = card_items(
        [variant(id=1, sku="çay-01"), variant(id=2, sku="CAY-01"), variant(id=3, sku="ok-1")], SETTINGS, TENANT
    )
    by_key = {i.key: i for i in items}
    assert by_key["OK-1"].plan is not None
    assert isinstance(by_key["variant:1"].error, ConflictError)
    assert isinstance(by_key["variant:2"].error, ConflictError)
    assert "CAY-01" in str(by_key["variant:1"].error)


def customer(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 501,
        "name": "Yılmaz Tekstil A.Ş.",
        "company": "Yılmaz Tekstil A.Ş.",
        "currency": "TRY",
        "reference_id": "1234567890",
        "email": "info@yilmaz.com.tr",
        "addresses": [
            {
                "id": 9,
                "entity_type": "billing",
                "line_1": "Atatürk Cd. 5",
                "city": "İzmir",
                "state": "Bornova",
                "country": "TR",
            }
        ],
    }
    base.update(over)
    return base


def test_company_customer_with_vkn() -> None:
    plan = map_customer(customer(), SETTINGS)
    p = plan.payload
    assert plan.key == "KTN-501" and p["tip"] == 1 and p["vergiNo"] == "1234567890"
    assert p["il"] == "İzmir" and p["iletisimTanim"] == "info@yilmaz.com.tr"


def test_person_with_tckn_and_placeholder_when_missing() -> None:
    person = map_customer(
        customer(reference_id="12345678901", first_name="Ayşe", last_name="Kaya", company=None, name="Ayşe Kaya"),
        SETTINGS,
    ).payload
    assert person["tip"] == 2 and person["tcKimlikNo"] == "12345678901" and person["soyad"] == "Kaya"
    plan = map_customer(customer(reference_id=None), SETTINGS)
    assert plan.payload["tcKimlikNo"] == "11111111111" and plan.label.startswith("no tax id")
    with pytest.raises(MappingError, match="SYNC_CUSTOMER_TAX_ID_PLACEHOLDER"):
        map_customer(customer(reference_id=None), SETTINGS.with_overrides(customer_tax_id_placeholder=""))


def order(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 7001,
        "order_no": "SO-12",
        "customer_id": 501,
        "currency": "TRY",
        "location_id": 1,
        "picked_date": "2026-05-10T09:00:00.000Z",
        "status": "DELIVERED",
        "sales_order_rows": [
            {
                "id": 1,
                "variant_id": 3001,
                "quantity": "2.00000",
                "price_per_unit": "100.0000000000",
                "tax_rate_id": 20,
                "total_discount": "20.00",
            },
            {"id": 2, "variant_id": 3002, "quantity": 1, "price_per_unit": 50, "tax_rate_id": 10},
        ],
    }
    base.update(over)
    return base


VARIANTS = {
    3001: variant(),
    3002: variant(
        id=3002,
        sku="nakliye",
        type="service",
        product_or_material={"name": "Nakliye", "uom": "adet", "type": "service"},
    ),
}
RATES = {20: Decimal(20), 10: Decimal(10)}


def test_delivered_order_becomes_an_invoice() -> None:
    plan = map_invoice(order(), VARIANTS, RATES, SETTINGS, TENANT)
    p = plan.payload
    assert plan.key == p["belgeTakipNo"] == "KTN-SO-7001"
    assert p["belgeSeri"] == "EFA2025" and p["belgeTurDetayId"] == 76 and p["cariKodu"] == "KTN-501"
    assert p["belgeTarihi"] == "10/05/2026" and p["vadeTarihi"] == "09/06/2026"
    first, second = p["detayList"]
    assert first["kartKodu"] == "VIDA-M8" and first["miktar"] == 2.0 and first["kdvOran"] == 0.2
    assert first["iskontoOran1"] == 0.1 and first["depoKodu"] == "001"
    assert second["kartTuru"] == 2 and "depoKodu" not in second and second["kdvOran"] == 0.1
    assert plan.needs_customer == "KTN-501" and plan.needs_cards == ("VIDA-M8", "NAKLIYE")


def test_foreign_currency_needs_a_rate() -> None:
    with pytest.raises(MappingError, match="conversion_rate"):
        map_invoice(order(currency="USD"), VARIANTS, RATES, SETTINGS, TENANT)
    plan = map_invoice(order(currency="USD", conversion_rate="32.5"), VARIANTS, RATES, SETTINGS, TENANT)
    assert plan.payload["kurBedeli"] == 32.5


def test_unknown_variant_on_a_row_fails_the_invoice() -> None:
    with pytest.raises(MappingError, match="variant 999"):
        map_invoice(
            order(sales_order_rows=[{"variant_id": 999, "quantity": 1, "price_per_unit": 1}]),
            VARIANTS,
            RATES,
            SETTINGS,
            TENANT,
        )


hostile_text = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.just(""),
    st.just("   "),
    st.text(min_size=300),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
)
hostile_number = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.decimals(allow_nan=True).map(str),
    st.booleans(),
)


@hsettings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    sku=hostile_text,
    name=hostile_text,
    price=hostile_number,
    uom=hostile_text,
    created=st.one_of(st.none(), st.text(max_size=30), st.just("2026-01-01T00:00:00Z")),
    attrs=st.one_of(st.none(), st.lists(st.dictionaries(st.text(max_size=5), hostile_text, max_size=3), max_size=3)),
)
def test_hostile_variants_map_or_fail_with_a_reason(
    sku: Any, name: Any, price: Any, uom: Any, created: Any, attrs: Any
) -> None:
    v = {
        "id": 1,
        "sku": sku,
        "sales_price": price,
        "created_at": created,
        "config_attributes": attrs,
        "product_or_material": {"name": name, "uom": uom},
    }
    [item] = card_items([v], SETTINGS, TENANT)
    if item.plan is None:
        assert item.error is not None and str(item.error)
    else:
        assert item.plan.payload["kartKodu"] and len(item.plan.payload["kartAdi"]) <= 200


@hsettings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(qty=hostile_number, price=hostile_number, cur=hostile_text, cid=st.one_of(hostile_text, st.integers()))
def test_hostile_orders_map_or_raise_mapping_error(qty: Any, price: Any, cur: Any, cid: Any) -> None:
    o = order(
        customer_id=cid, currency=cur, sales_order_rows=[{"variant_id": 3001, "quantity": qty, "price_per_unit": price}]
    )
    try:
        plan = map_invoice(o, VARIANTS, RATES, SETTINGS, TENANT)
    except MappingError as exc:
        assert str(exc)
    else:
        assert plan.payload["detayList"][0]["miktar"] > 0
