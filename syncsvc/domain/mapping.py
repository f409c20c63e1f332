"""Pure Katana -> Luca mapping: variant -> stock card, customer -> cari, sales order -> invoice.

No I/O here. Every function either returns a plan (the exact payload we will send, plus its
digest for change detection) or raises MappingError naming what to fix or configure. Digests are
over what WE send, never over what Luca echoes (Luca stores Windows-1254, so text comes back with
``?`` for characters outside it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from syncsvc.domain.convert import as_int, canonical_code, luca_date, luca_number, parse_katana_time, text, to_decimal
from syncsvc.domain.errors import MappingError
from syncsvc.domain.model import Plan
from syncsvc.settings import Settings

ZERO = Decimal(0)


@dataclass(frozen=True)
class LucaTenant:
    """Tenant look-ups resolved from Luca at the start of a run (names -> tenant ids)."""

    units: Mapping[str, int]  # lower-cased unit name -> olcumBirimiId

    def unit_id(self, uom: object, settings: Settings) -> int:
        key = text(uom).lower() or "pcs"
        name = settings.unit_map.get(key)
        if name is None:
            raise MappingError(f"Katana unit {key!r} has no Luca unit: add it to SYNC_UNIT_MAP (e.g. {key}=Adet)")
        unit = self.units.get(name.lower())
        if unit is None:
            raise MappingError(
                f"SYNC_UNIT_MAP maps {key!r} to {name!r}, which is not in Luca's unit list "
                f"(ListeleGnlOlcumBirimi); use one of: {', '.join(sorted(self.units)) or 'none'}"
            )
        return unit


# -- stock cards ---------------------------------------------------------------------------


def variant_name(variant: Mapping[str, Any], parent: Mapping[str, Any]) -> str:
    """Product name plus the variant's option values: "Çelik Vida (M8, 50 mm)"."""
    base = text(parent.get("name")) or text(variant.get("sku")) or f"Katana variant {variant.get('id')}"
    options = [text(a.get("config_value")) for a in variant.get("config_attributes") or [] if isinstance(a, dict)]
    options = [o for o in options if o]
    return text(f"{base} ({', '.join(options)})" if options else base, limit=200)


def map_stock_card(variant: Mapping[str, Any], settings: Settings, tenant: LucaTenant) -> Plan:
    """A Katana variant (``extend=product_or_material``, or a service variant) -> a stock card."""
    if not isinstance(variant, Mapping):
        raise MappingError("variant is not an object")
    code = canonical_code(variant.get("sku"))
    parent = variant.get("product_or_material") or variant.get("service") or {}
    if not isinstance(parent, Mapping):
        raise MappingError(f"variant {variant.get('id')} has a malformed parent item")
    kind = text(variant.get("type") or parent.get("type")).lower()
    created = parse_katana_time(variant.get("created_at") or parent.get("created_at"), "created_at")
    barcode = text(variant.get("registered_barcode") or variant.get("internal_barcode")) or None
    category = text(parent.get("category_name"))
    vat = luca_number(Decimal(str(settings.default_vat)))
    payload: dict[str, Any] = {
        "kartKodu": code,
        "kartAdi": variant_name(variant, parent),
        "kartTuru": 2 if kind == "service" else 1,  # 1 stok (goods), 2 hizmet (service)
        "kartTipi": 1,
        "baslangicTarihi": luca_date(created),
        "olcumBirimiId": tenant.unit_id(parent.get("uom"), settings),
        "kategoriAgacKod": settings.category_map.get(category.lower()) if category else None,
        "barkod": barcode,
        "kartAlisKdvOran": vat,
        "kartSatisKdvOran": vat,
        "perakendeSatisBirimFiyat": luca_number(to_decimal(variant.get("sales_price"), "sales_price", ZERO)),
        "perakendeAlisBirimFiyat": luca_number(
            to_decimal(variant.get("purchase_price", variant.get("default_cost")), "purchase_price", ZERO)
        ),
        "satilabilirFlag": 1 if parent.get("is_sellable", True) else 0,
        "satinAlinabilirFlag": 1 if parent.get("is_purchasable", kind != "service") else 0,
    }
    return Plan.of(
        code,
        payload,
        source_id=as_int(variant.get("id")),
        label=payload["kartAdi"],
    )


# -- customers (cari) ----------------------------------------------------------------------


def customer_code(customer_id: object, settings: Settings) -> str:
    number = as_int(customer_id)
    if number is None or number < 0:
        raise MappingError(f"customer id must be a number, got {customer_id!r}")
    return settings.customer_code_template.format(id=number)


def _billing_address(customer: Mapping[str, Any]) -> Mapping[str, Any]:
    addresses = [a for a in customer.get("addresses") or [] if isinstance(a, Mapping)]
    default_id = customer.get("default_billing_id")
    for a in addresses:
        if default_id is not None and a.get("id") == default_id:
            return a
    billing = [a for a in addresses if a.get("entity_type") == "billing"]
    return (billing or addresses or [{}])[0]


def _person_names(customer: Mapping[str, Any], display: str) -> tuple[str, str]:
    first, last = text(customer.get("first_name")), text(customer.get("last_name"))
    if first and last:
        return first, last
    parts = display.split()
    if len(parts) >= 2:
        return " ".join(parts[:-1]), parts[-1]
    return display or "-", "-"


def map_customer(customer: Mapping[str, Any], settings: Settings) -> Plan:
    """A Katana customer -> a Luca cari (finMusteri). The tax id decides company vs person."""
    if not isinstance(customer, Mapping):
        raise MappingError("customer is not an object")
    code = customer_code(customer.get("id"), settings)
    display = text(customer.get("name")) or text(customer.get("company"))
    if not display:
        raise MappingError(f"customer {customer.get('id')} has no name")
    currency = text(customer.get("currency")).upper() or "TRY"
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise MappingError(f"customer {customer.get('id')} has an invalid currency {currency!r}")
    raw_tax = re.sub(r"\D", "", text(customer.get(settings.customer_tax_id_field)))
    note = None
    if len(raw_tax) == 10:
        tax: dict[str, Any] = {"tip": 1, "vergiNo": raw_tax}
    else:
        if len(raw_tax) != 11:
            if not settings.customer_tax_id_placeholder:
                raise MappingError(
                    f"customer {customer.get('id')} has no 10-digit VKN or 11-digit TCKN in "
                    f"{settings.customer_tax_id_field!r}; fill it in Katana or set SYNC_CUSTOMER_TAX_ID_PLACEHOLDER"
                )
            raw_tax = settings.customer_tax_id_placeholder
            note = f"no tax id in {settings.customer_tax_id_field}; sent as final consumer {raw_tax}"
        first, last = _person_names(customer, display)
        tax = {"tip": 2, "tcKimlikNo": raw_tax, "ad": text(first, 50), "soyad": text(last, 50)}
    address = _billing_address(customer)
    payload: dict[str, Any] = {
        "kartKod": code,
        "tanim": text(display, 200),
        "kisaAd": text(display, 50),
        "yasalUnvan": text(customer.get("company") or display, 200),
        "paraBirimKod": currency,
        "cariTipId": 5,
        **tax,
        "adresTipId": 9,  # invoice address
        "ulke": text(address.get("country")) or "TR",
        "il": text(address.get("city")),
        "ilce": text(address.get("state")),
        "adresSerbest": text(
            " ".join(
                filter(None, (text(address.get("line_1")), text(address.get("line_2")), text(address.get("zip"))))
            ),
            500,
        ),
    }
    email, phone = text(customer.get("email")), text(customer.get("phone") or address.get("phone"))
    if email:
        payload.update(iletisimTipId=5, iletisimTanim=email)
    elif phone:
        payload.update(iletisimTipId=3, iletisimTanim=phone)
    return Plan.of(
        code,
        payload,
        source_id=as_int(customer.get("id")),
        label=note or display,
    )


# -- sales invoices ------------------------------------------------------------------------


def tracking_number(order_id: object, settings: Settings) -> str:
    """``belgeTakipNo``: deterministic from the Katana order id (Luca has no document de-dup)."""
    number = as_int(order_id)
    if number is None or number < 0:
        raise MappingError(f"sales order id must be a number, got {order_id!r}")
    return f"{settings.invoice_tracking_prefix}{number}"


def map_invoice(
    order: Mapping[str, Any],
    variants: Mapping[int, Mapping[str, Any]],
    tax_rates: Mapping[int, Decimal],
    settings: Settings,
    tenant: LucaTenant,
) -> Plan:
    """A delivered Katana sales order (rows embedded) -> a Luca sales invoice."""
    if not isinstance(order, Mapping):
        raise MappingError("sales order is not an object")
    key = tracking_number(order.get("id"), settings)
    cari = customer_code(order.get("customer_id"), settings)
    currency = text(order.get("currency")).upper() or "TRY"
    when = parse_katana_time(
        order.get("picked_date") or order.get("delivery_date") or order.get("order_created_date")
        or order.get("created_at"), "picked_date",
    )  # fmt: skip
    header: dict[str, Any] = {
        "belgeSeri": settings.invoice_series,
        "belgeTarihi": luca_date(when),
        "vadeTarihi": luca_date(when.date() + timedelta(days=settings.invoice_due_days)),
        "belgeTakipNo": key,
        "belgeAciklama": text(f"Katana {text(order.get('order_no'))}", 250),
        "belgeTurDetayId": settings.invoice_doc_type_id,
        "faturaTur": 1,
        "musteriTedarikci": 1,
        "cariKodu": cari,
        "paraBirimKod": currency,
        "siparisNo": text(order.get("order_no"), 50),
    }
    if currency != "TRY":
        rate = to_decimal(order.get("conversion_rate"), f"conversion_rate of {currency} order", ZERO)
        if rate <= 0:
            raise MappingError(f"order {order.get('order_no')} is in {currency} but has no conversion_rate")
        header["kurBedeli"] = luca_number(rate, 6)
    rows = [r for r in order.get("sales_order_rows") or [] if isinstance(r, Mapping) and not r.get("deleted_at")]
    if not rows:
        raise MappingError(f"order {order.get('order_no')} has no rows")
    lines, cards = [], []
    for index, row in enumerate(rows, start=1):
        line, code = _invoice_line(index, row, variants, tax_rates, order, settings, tenant)
        lines.append(line)
        cards.append(code)
    payload = {**header, "detayList": lines}
    return Plan.of(
        key,
        payload,
        source_id=as_int(order.get("id")),
        label=text(order.get("order_no")),
        needs_customer=cari,
        needs_cards=tuple(dict.fromkeys(cards)),
    )


def _invoice_line(
    index: int, row: Mapping[str, Any], variants: Mapping[int, Mapping[str, Any]],
    tax_rates: Mapping[int, Decimal], order: Mapping[str, Any], settings: Settings, tenant: LucaTenant,
) -> tuple[dict[str, Any], str]:  # fmt: skip
    where = f"row {index} of order {order.get('order_no')}"
    variant = variants.get(as_int(row.get("variant_id")) or -1)
    if variant is None:
        raise MappingError(f"{where}: variant {row.get('variant_id')} not found in Katana")
    try:
        code = canonical_code(variant.get("sku"))
    except MappingError as exc:
        raise MappingError(f"{where}: {exc}") from None
    parent = variant.get("product_or_material") or variant.get("service") or {}
    is_service = text(variant.get("type") or parent.get("type")).lower() == "service"
    quantity = to_decimal(row.get("quantity"), f"{where}: quantity")
    if quantity <= 0 or luca_number(quantity, 5) <= 0:
        # Luca keeps 5 decimals: a positive quantity below that would become a 0-quantity line.
        raise MappingError(f"{where}: quantity must be positive (Luca keeps 5 decimals), got {quantity}")
    price = to_decimal(row.get("price_per_unit"), f"{where}: price_per_unit")
    discount = to_decimal(row.get("total_discount"), f"{where}: total_discount", ZERO)
    rate_id = as_int(row.get("tax_rate_id"))
    if rate_id is None:
        vat = Decimal(str(settings.default_vat))
    elif rate_id in tax_rates:
        vat = tax_rates[rate_id] / 100
    else:
        raise MappingError(f"{where}: tax rate {rate_id} not found in Katana's tax_rates")
    gross = quantity * price
    line: dict[str, Any] = {
        "kartTuru": 2 if is_service else 1,
        "kartKodu": code,
        "kartAdi": variant_name(variant, parent),
        "miktar": luca_number(quantity, 5),
        "birimFiyat": luca_number(price, 6),
        "tutar": luca_number(gross - discount, 2),
        "kdvOran": luca_number(vat, 4),
    }
    if discount:
        # A fraction like kdvOran (0.1 = 10 %): Luca's "Oran" fields are fractions.
        line["iskontoOran1"] = luca_number(discount / gross, 6) if gross else 0.0
    if not is_service:
        location = row.get("location_id") or order.get("location_id")
        line["depoKodu"] = settings.warehouse_map.get(str(location), settings.default_warehouse)
    try:
        line["olcuBirimi"] = tenant.unit_id(parent.get("uom"), settings)
    except MappingError:
        pass  # optional on a line: the stock card carries the unit
    return line, code
