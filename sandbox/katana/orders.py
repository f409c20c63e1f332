"""Sales order rows and totals, shared by the generator and the admin/API mutations.

Money rules (spec §2.7, choices marked where the spec is silent):
- row ``total`` = quantity x price_per_unit - total_discount, excluding tax, rounded to cents;
- tax is computed per row (``row total x rate / 100``, rounded to cents) and summed (a choice:
  the spec leaves per-row vs per-document rounding open);
- header ``total`` = sum of row totals + sum of row taxes (Katana: header total includes tax);
- ``conversion_rate`` = base-currency (TRY) units per one order-currency unit, so
  ``*_in_base_currency`` = amount x conversion_rate, rounded to cents; null for TRY orders.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.katana.encoding import dec_str, money, num, to_decimal

SO_STATUSES = ("PENDING", "NOT_SHIPPED", "PARTIALLY_PACKED", "PARTIALLY_DELIVERED", "PACKED", "DELIVERED")


def make_row(
    row_id: int,
    order: dict[str, Any],
    variant_id: int,
    quantity: Decimal,
    price_per_unit: Decimal,
    tax_rate_id: int | None,
    total_discount: Decimal | None = None,
    location_id: int | None = None,
) -> dict[str, Any]:
    """A row in wire form; totals are filled in by :func:`price_order`."""
    return {
        "id": row_id,
        "sales_order_id": order["id"],
        "variant_id": variant_id,
        # Documented wire style [GS]: quantity with 5 places, price with 10, both strings.
        "quantity": dec_str(quantity, 5),
        "price_per_unit": dec_str(price_per_unit, 10),
        "price_per_unit_in_base_currency": None,
        "total": None,
        "total_in_base_currency": None,
        "total_discount": None if total_discount is None else dec_str(total_discount, 10),
        "tax_rate_id": tax_rate_id,
        "location_id": location_id,
        "product_availability": "PICKED" if order["status"] == "DELIVERED" else "IN_STOCK",
        "product_expected_date": None,
        "linked_manufacturing_order_id": None,
        "conversion_rate": order["conversion_rate"],
        "conversion_date": order["conversion_date"],
        "attributes": [],
        "batch_transactions": [],
        "serial_numbers": [],
        "created_at": order["created_at"],
        "updated_at": order["updated_at"],
        "deleted_at": None,
    }


def price_order(order: dict[str, Any], rates_by_id: dict[int, dict[str, Any]]) -> None:
    """Recompute row and header totals in place from quantities, prices, discounts and tax."""
    conv = None if order.get("conversion_rate") is None else to_decimal(order["conversion_rate"])
    net_sum = Decimal(0)
    tax_sum = Decimal(0)
    for row in order["sales_order_rows"]:
        if row.get("deleted_at"):
            continue
        qty = to_decimal(row["quantity"])
        ppu = to_decimal(row["price_per_unit"])
        disc = Decimal(0) if row.get("total_discount") is None else to_decimal(row["total_discount"])
        total = money(qty * ppu - disc)
        row["total"] = num(total)
        row["price_per_unit_in_base_currency"] = num(ppu if conv is None else (ppu * conv).quantize(Decimal("0.0001")))
        row["total_in_base_currency"] = num(total if conv is None else money(total * conv))
        rate = rates_by_id.get(row["tax_rate_id"]) if row.get("tax_rate_id") is not None else None
        if rate is not None:
            tax_sum += money(total * to_decimal(rate["rate"]) / 100)
        net_sum += total
    grand = money(net_sum + tax_sum)
    order["total"] = num(grand)
    order["total_in_base_currency"] = num(grand if conv is None else money(grand * conv))
