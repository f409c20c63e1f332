"""The simulator's in-memory state and every mutation on it.

One re-entrant lock guards everything: the server runs 64 threads, and a list request must see a
consistent snapshot while it filters and serialises. Records are kept in wire form (see
``data.py``); parents are embedded at read time, so a product rename is visible at once on its
variants' ``product_or_material``.

Mutation choices (spec §6.7 plus the lead's brief):
- every change sets ``updated_at`` to the simulator clock (strictly increasing);
- a soft delete sets ``deleted_at`` and ``updated_at``; deleting an item also soft-deletes its
  variants, deleting a sales order also its rows;
- any change to a product/material/service bumps ``updated_at`` of its (non-deleted) variants
  too, so ``/variants?updated_at_min=..&extend=product_or_material`` delivers the new parent data;
- ``is_archived`` true/false sets/clears ``archived_at``; variants of an archived item count as
  archived (hidden from ``/variants`` unless ``include_archived``).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from sandbox.katana.clock import SimClock
from sandbox.katana.data import BASE_CURRENCY, ORDER_DEFAULTS, Dataset, GenOptions, generate
from sandbox.katana.encoding import iso, num, to_decimal
from sandbox.katana.orders import SO_STATUSES, make_row, price_order

Record = dict[str, Any]
ITEM_KINDS = ("product", "material", "service")
# Fields no mutation may touch: identity and history.
FROZEN = {"id", "created_at", "type"}
# Admin-created foreign orders without an explicit rate use these (TRY per unit).
DEFAULT_RATES = {"USD": Decimal("38.5000"), "EUR": Decimal("41.6000")}


class NotFound(LookupError):
    pass


class Invalid(ValueError):
    pass


class Store:
    def __init__(self, opts: GenOptions, clock: SimClock) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.opts = opts
        self.data: Dataset
        self.paging_mutations = 0
        # Change notifications (resource_type, event, record): the webhook hub listens here.
        self.emit: Callable[[str, str, Record], None] = lambda resource, action, record: None
        self.reset(opts)

    # -- lifecycle ------------------------------------------------------------------------
    def reset(self, opts: GenOptions) -> None:
        data = generate(opts, self.clock.peek())
        with self.lock:
            self.opts, self.data, self.paging_mutations = opts, data, 0
            self._children: dict[int, list[int]] = {}
            for v in data.variants.values():
                self._children.setdefault(self.parent_id(v), []).append(v["id"])
            self._rows: dict[int, Record] = {
                row["id"]: row for so in data.sales_orders.values() for row in so["sales_order_rows"]
            }

    # -- relations and visibility ---------------------------------------------------------
    @staticmethod
    def parent_id(variant: Record) -> int:
        parent = variant.get("product_id") or variant.get("material_id") or variant.get("service_id")
        assert parent is not None, f"variant {variant.get('id')} has no parent"
        return int(parent)

    def items(self, kind: str) -> Iterable[Record]:
        return (i for i in self.data.items.values() if i["type"] == kind)

    def item(self, kind: str, item_id: int) -> Record:
        item = self.data.items.get(item_id)
        if item is None or item["type"] != kind:
            raise NotFound(f"{kind} {item_id}")
        return item

    def variants_of(self, item_id: int) -> list[Record]:
        return [self.data.variants[v] for v in self._children.get(item_id, [])]

    def variant_archived(self, variant: Record) -> bool:
        parent = self.data.items.get(self.parent_id(variant))
        return parent is not None and parent.get("archived_at") is not None

    def rows(self) -> Iterable[Record]:
        return self._rows.values()

    def row_deleted(self, row: Record) -> bool:
        so = self.data.sales_orders.get(row["sales_order_id"])
        return row.get("deleted_at") is not None or (so is not None and so.get("deleted_at") is not None)

    # -- read views (wire objects with embeds; call under the lock) -----------------------
    def item_view(self, item: Record, include_deleted: bool = False) -> Record:
        variants = [v for v in self.variants_of(item["id"]) if include_deleted or v.get("deleted_at") is None]
        return {**item, "variants": variants}

    def variant_view(self, variant: Record, extend_parent: bool = False) -> Record:
        if not extend_parent:
            return variant
        parent = self.data.items.get(self.parent_id(variant))
        return {**variant, "product_or_material": parent}

    def row_view(self, row: Record, extend_variant: bool = False) -> Record:
        if not extend_variant:
            return row
        return {**row, "variant": self.data.variants.get(row["variant_id"])}

    # -- mutations ------------------------------------------------------------------------
    def _apply(self, record: Record, fields: dict[str, Any], now: str) -> None:
        frozen = FROZEN & set(fields)
        if frozen:
            raise Invalid(f"read-only fields: {sorted(frozen)}")
        record.update(fields)
        record["updated_at"] = now

    def patch_item(self, kind: str, item_id: int, fields: dict[str, Any]) -> Record:
        with self.lock:
            item = self.item(kind, item_id)
            fields = dict(fields)
            now = self.clock.now_iso()
            if "is_archived" in fields:
                item["archived_at"] = now if fields.pop("is_archived") else None
            self._apply(item, fields, now)
            for v in self.variants_of(item_id):
                if v.get("deleted_at") is None:
                    v["updated_at"] = now
            self.emit(kind, f"{kind}.updated", item)
            return item

    def delete_item(self, kind: str, item_id: int) -> Record:
        with self.lock:
            item = self.item(kind, item_id)
            now = self.clock.now_iso()
            item["deleted_at"] = item["updated_at"] = now
            self.emit(kind, f"{kind}.deleted", item)
            for v in self.variants_of(item_id):
                if v.get("deleted_at") is None:
                    v["deleted_at"] = v["updated_at"] = now
                    self.emit("variant", "variant.deleted", v)
            return item

    def variant(self, variant_id: int) -> Record:
        v = self.data.variants.get(variant_id)
        if v is None:
            raise NotFound(f"variant {variant_id}")
        return v

    def patch_variant(self, variant_id: int, fields: dict[str, Any]) -> Record:
        with self.lock:
            v = self.variant(variant_id)
            self._apply(v, fields, self.clock.now_iso())
            self.emit("variant", "variant.updated", v)
            return v

    def delete_variant(self, variant_id: int) -> Record:
        with self.lock:
            v = self.variant(variant_id)
            v["deleted_at"] = v["updated_at"] = self.clock.now_iso()
            self.emit("variant", "variant.deleted", v)
            return v

    def customer(self, customer_id: int) -> Record:
        c = self.data.customers.get(customer_id)
        if c is None:
            raise NotFound(f"customer {customer_id}")
        return c

    def patch_customer(self, customer_id: int, fields: dict[str, Any]) -> Record:
        with self.lock:
            c = self.customer(customer_id)
            self._apply(c, fields, self.clock.now_iso())
            return c

    def delete_customer(self, customer_id: int) -> Record:
        with self.lock:
            c = self.customer(customer_id)
            c["deleted_at"] = c["updated_at"] = self.clock.now_iso()
            return c

    def sales_order(self, so_id: int) -> Record:
        so = self.data.sales_orders.get(so_id)
        if so is None:
            raise NotFound(f"sales order {so_id}")
        return so

    def _next_id(self, ids: Iterable[int]) -> int:
        return max(ids, default=1_000_000) + 1

    def create_sales_order(self, body: dict[str, Any]) -> Record:
        """Create an SO from ``{customer_id, rows|sales_order_rows, status?, currency?, ...}``."""
        with self.lock:
            try:
                customer = self.customer(int(body["customer_id"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise Invalid("customer_id: an existing customer id is required") from exc
            rows_in = body.get("rows", body.get("sales_order_rows"))
            if not isinstance(rows_in, list) or not rows_in:
                raise Invalid("rows: at least one row is required")
            status = body.get("status", "NOT_SHIPPED")
            if status not in SO_STATUSES:
                raise Invalid(f"status must be one of {SO_STATUSES}")
            currency = body.get("currency") or customer["currency"]
            rate = body.get("conversion_rate")
            if currency != BASE_CURRENCY and rate is None:
                rate = DEFAULT_RATES.get(currency, Decimal(1))
            now = self.clock.now_iso()
            numbers = [
                int(so["order_no"].rpartition("-")[2])
                for so in self.data.sales_orders.values()
                if so["order_no"].rpartition("-")[2].isdigit()
            ]
            so_id = self._next_id(self.data.sales_orders)
            primary = next(iter(self.data.locations))
            order: Record = {
                **ORDER_DEFAULTS,
                "id": so_id,
                "customer_id": customer["id"],
                "order_no": body.get("order_no") or f"SO-{max(numbers, default=0) + 1}",
                "source": "api",
                "order_created_date": body.get("order_created_date") or now,
                "delivery_date": body.get("delivery_date"),
                "picked_date": None,
                "location_id": body.get("location_id") or primary,
                "status": status,
                "currency": currency,
                "conversion_rate": None if currency == BASE_CURRENCY else num(to_decimal(rate)),
                "conversion_date": None if currency == BASE_CURRENCY else now,
                "additional_info": body.get("additional_info", ""),
                "customer_ref": body.get("customer_ref"),
                "sales_order_rows": [],
                "ecommerce_order_type": None,
                "ecommerce_store_name": None,
                "ecommerce_order_id": None,
                "product_availability": "IN_STOCK",
                "billing_address_id": None,
                "shipping_address_id": None,
                "addresses": [],
                "created_at": now,
                "updated_at": now,
            }
            default_tax = next((t["id"] for t in self.data.tax_rates.values() if t["is_default_sales"]), None)
            next_row = self._next_id(self._rows)
            for i, spec in enumerate(rows_in):
                try:
                    variant = self.variant(int(spec["variant_id"]))
                    qty = to_decimal(spec.get("quantity", 1))
                    price = spec.get("price_per_unit")
                    price_dec = to_decimal(price if price is not None else variant.get("sales_price") or 0)
                    disc = spec.get("total_discount")
                    tax_id = spec.get("tax_rate_id", default_tax)
                except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    raise Invalid(f"rows[{i}]: variant_id, quantity, price_per_unit must be valid") from exc
                if tax_id is not None and tax_id not in self.data.tax_rates:
                    raise Invalid(f"rows[{i}].tax_rate_id: unknown tax rate {tax_id}")
                row = make_row(
                    next_row + i,
                    order,
                    variant["id"],
                    qty,
                    price_dec,
                    tax_id,
                    None if disc is None else to_decimal(disc),
                    spec.get("location_id"),
                )
                order["sales_order_rows"].append(row)
            price_order(order, self.data.tax_rates)
            if status == "DELIVERED":
                order["picked_date"] = order["delivery_date"] = now
            self.data.sales_orders[so_id] = order
            for row in order["sales_order_rows"]:
                self._rows[row["id"]] = row
            self.emit("sales_order", "sales_order.created", order)
            if status == "DELIVERED":
                self.emit("sales_order", "sales_order.delivered", order)
            return order

    def patch_sales_order(self, so_id: int, fields: dict[str, Any]) -> Record:
        with self.lock:
            so = self.sales_order(so_id)
            if "status" in fields and fields["status"] not in SO_STATUSES:
                raise Invalid(f"status must be one of {SO_STATUSES}")
            if "sales_order_rows" in fields:
                raise Invalid("rows cannot be replaced through PATCH")
            now = self.clock.now_iso()
            before = so["status"]
            self._apply(so, fields, now)
            for row in so["sales_order_rows"]:
                row["conversion_rate"], row["conversion_date"] = so["conversion_rate"], so["conversion_date"]
            price_order(so, self.data.tax_rates)
            self.emit("sales_order", "sales_order.updated", so)
            if so["status"] != before and so["status"] in ("PACKED", "DELIVERED"):
                self.emit("sales_order", f"sales_order.{so['status'].lower()}", so)
            return so

    def deliver(self, so_id: int) -> Record:
        """Mark delivered now: status, picked/delivery dates, and ``updated_at`` of order and rows."""
        with self.lock:
            so = self.sales_order(so_id)
            now = self.clock.now_iso()
            so["status"] = "DELIVERED"
            so["picked_date"] = so["picked_date"] or now
            so["delivery_date"] = now
            so["product_availability"] = "PICKED"
            so["updated_at"] = now
            for row in so["sales_order_rows"]:
                row["product_availability"] = "PICKED"
                row["updated_at"] = now
            # Katana sends both for one delivery: "delivered is also considered an update".
            self.emit("sales_order", "sales_order.updated", so)
            self.emit("sales_order", "sales_order.delivered", so)
            return so

    def delete_sales_order(self, so_id: int) -> Record:
        with self.lock:
            so = self.sales_order(so_id)
            now = self.clock.now_iso()
            so["deleted_at"] = so["updated_at"] = now
            for row in so["sales_order_rows"]:
                row["deleted_at"] = row["updated_at"] = now
            self.emit("sales_order", "sales_order.deleted", so)
            return so

    def create_customer(self, body: dict[str, Any]) -> Record:
        with self.lock:
            now = self.clock.now_iso()
            cid = self._next_id(self.data.customers)
            customer: Record = {
                "id": cid,
                "name": body["name"],
                **{k: body.get(k) for k in ("first_name", "last_name", "company", "email", "phone", "comment")},
                "currency": body.get("currency", BASE_CURRENCY),
                "discount_rate": body.get("discount_rate"),
                "reference_id": body.get("reference_id"),
                "category": body.get("category"),
                "default_billing_id": None,
                "default_shipping_id": None,
                "addresses": [],
                "created_at": now,
                "updated_at": now,
                "deleted_at": None,
            }
            self.data.customers[cid] = customer
            return customer

    def create_tax_rate(self, body: dict[str, Any]) -> Record:
        with self.lock:
            now = self.clock.now_iso()
            tid = self._next_id(self.data.tax_rates)
            rate = num(to_decimal(body["rate"]))
            tax: Record = {
                "id": tid,
                "name": body.get("name") or f"{rate}%",
                "rate": rate,
                "is_default_sales": False,
                "is_default_purchases": False,
                "display_name": body.get("name") or f"{rate}%",
                "created_at": now,
                "updated_at": now,
            }
            self.data.tax_rates[tid] = tax
            return tax

    def create_item(self, kind: str, body: dict[str, Any]) -> Record:
        """A product/material/service from a POST body (already shape-validated)."""
        with self.lock:
            if any(i["name"] == body["name"] for i in self.data.items.values() if not i["deleted_at"]):
                raise Invalid(f"name: {body['name']!r} is already used")
            now = self.clock.now_iso()
            item_id = self._next_id(self.data.items)
            item: Record = {
                "id": item_id,
                "name": body["name"],
                "uom": body.get("uom", "pcs"),
                "category_name": body.get("category_name"),
                "is_sellable": body.get("is_sellable", kind != "material"),
                "additional_info": body.get("additional_info", ""),
                "configs": body.get("configs", []),
                "type": kind,
                "archived_at": None,
                "created_at": now,
                "updated_at": now,
                "deleted_at": None,
            }
            if kind == "service":
                del item["configs"]
            item.update({k: v for k, v in body.items() if k not in ("variants", "configs") and k not in item})
            self.data.items[item_id] = item
            self._children[item_id] = []
            self.emit(kind, f"{kind}.created", item)
            for spec in body.get("variants") or [{}]:
                self.create_variant({**spec, f"{kind}_id": item_id})
            return item

    def create_variant(self, body: dict[str, Any]) -> Record:
        with self.lock:
            parent_id = body.get("product_id") or body.get("material_id") or body.get("service_id")
            parent = self.data.items.get(parent_id) if isinstance(parent_id, int) else None
            if parent is None or not isinstance(parent_id, int):
                raise Invalid("product_id or material_id: an existing item id is required")
            sku = body.get("sku")
            if sku is not None and any(v["sku"] == sku for v in self.data.variants.values()):
                raise Invalid(f"sku: {sku!r} is already used")
            now = self.clock.now_iso()
            vid = self._next_id(self.data.variants)
            kind = parent["type"]
            variant: Record = {"id": vid, "sku": sku, "sales_price": body.get("sales_price")}
            if kind == "service":
                variant.update(service_id=parent_id, default_cost=None, type="service", custom_fields=[])
            else:
                variant.update(
                    purchase_price=body.get("purchase_price"),
                    product_id=parent_id if kind == "product" else None,
                    material_id=parent_id if kind == "material" else None,
                    type=kind,
                    internal_barcode=body.get("internal_barcode"),
                    registered_barcode=body.get("registered_barcode"),
                    supplier_item_codes=body.get("supplier_item_codes", []),
                    lead_time=body.get("lead_time"),
                    minimum_order_quantity=body.get("minimum_order_quantity"),
                    config_attributes=body.get("config_attributes", []),
                    custom_fields=body.get("custom_fields", []),
                )
            variant.update(created_at=now, updated_at=now, deleted_at=None)
            self.data.variants[vid] = variant
            self._children.setdefault(parent_id, []).append(vid)
            if kind != "service":
                self.emit("variant", "variant.created", variant)
            return variant

    def mutate_for_paging(self, resource: str, rng: random.Random) -> None:
        """The ``mutate_during_paging`` fault: shift list pages under a paging client.

        For sales orders a new order is inserted at the head of the newest-first order, so the
        next page repeats one record; for variants a random live variant's price changes (a real
        edit, webhook included), so it enters an ``updated_at`` window mid-scan at its
        ``created_at`` position, possibly on a page the client has already read; for other lists
        a random record's ``updated_at`` moves.
        """
        with self.lock:
            if resource == "sales_orders" and self.data.sales_orders:
                template = self.data.sales_orders[rng.choice(list(self.data.sales_orders))]
                self.create_sales_order(
                    {
                        "customer_id": template["customer_id"],
                        "rows": [
                            {
                                "variant_id": r["variant_id"],
                                "quantity": r["quantity"],
                                "price_per_unit": r["price_per_unit"],
                            }
                            for r in template["sales_order_rows"]
                        ],
                    }
                )
            else:
                pool: dict[int, Record] = {"customers": self.data.customers}.get(resource, self.data.items)
                if not pool:
                    return
                pool[rng.choice(list(pool))]["updated_at"] = self.clock.now_iso()
            self.paging_mutations += 1

    def _reprice(self, victim: Record) -> None:
        price = to_decimal(victim.get("sales_price") or 0) + Decimal("1.25")
        self.patch_variant(victim["id"], {"sales_price": num(price)})
        self.paging_mutations += 1

    def mutate_variants_for_paging(self, ordered: list[Record], page: int, limit: int, rng: random.Random) -> None:
        """The ``mutate_during_paging`` fault on ``/variants``: real concurrent edits (a price
        change, webhook included) placed where they hurt a paging client most.

        Before page 1 a random live variant changes. Before page N > 1, first a variant on a page
        the client has already read changes, then one on a page still ahead. The second edit is
        newer and will be seen, so a client whose watermark is "the newest ``updated_at`` seen"
        moves past the first edit, which it never saw, and loses it for good.
        """
        with self.lock:
            live = [v for v in ordered if v["type"] != "service" and not v["deleted_at"]]
            read = live[: (page - 1) * limit]
            ahead = live[page * limit :]
            if page == 1 or not read:
                pool = [v for v in self.data.variants.values() if v["type"] != "service" and not v["deleted_at"]]
                if pool:
                    self._reprice(rng.choice(pool))
                return
            self._reprice(rng.choice(read))
            if ahead:
                self._reprice(rng.choice(ahead))

    # -- reports --------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        with self.lock:
            d = self.data
            out: dict[str, Any] = {
                "seed": self.opts.seed,
                "clock": iso(self.clock.peek()),
                "anchor": d.meta.get("anchor"),
            }
            for kind in ITEM_KINDS:
                recs = list(self.items(kind))
                out[f"{kind}s"] = {
                    "total": len(recs),
                    "visible": sum(1 for i in recs if not i["deleted_at"] and not i["archived_at"]),
                    "archived": sum(1 for i in recs if i["archived_at"] and not i["deleted_at"]),
                    "deleted": sum(1 for i in recs if i["deleted_at"]),
                }
            goods = [v for v in d.variants.values() if v["type"] != "service"]
            visible = [v for v in goods if not v["deleted_at"] and not self.variant_archived(v)]
            out["variants"] = {
                "total": len(goods),
                "product": sum(1 for v in goods if v["type"] == "product"),
                "material": sum(1 for v in goods if v["type"] == "material"),
                "visible": len(visible),
                "visible_with_sku": sum(1 for v in visible if v["sku"] is not None),
                "visible_null_sku": sum(1 for v in visible if v["sku"] is None),
                "null_sku": sum(1 for v in goods if v["sku"] is None),
                "archived": sum(1 for v in goods if not v["deleted_at"] and self.variant_archived(v)),
                "deleted": sum(1 for v in goods if v["deleted_at"]),
                "service": sum(1 for v in d.variants.values() if v["type"] == "service"),
            }
            by_status = dict.fromkeys(SO_STATUSES, 0)
            for so in d.sales_orders.values():
                if not so["deleted_at"]:
                    by_status[so["status"]] += 1
            out["customers"] = {
                "total": len(d.customers),
                "visible": sum(1 for c in d.customers.values() if not c["deleted_at"]),
                "deleted": sum(1 for c in d.customers.values() if c["deleted_at"]),
            }
            out["sales_orders"] = {
                "total": len(d.sales_orders),
                "deleted": sum(1 for so in d.sales_orders.values() if so["deleted_at"]),
                "by_status": by_status,
                "rows": len(self._rows),
                "foreign_currency": sum(1 for so in d.sales_orders.values() if so["currency"] != BASE_CURRENCY),
            }
            out["tax_rates"] = len(d.tax_rates)
            out["locations"] = len(d.locations)
            out["sku_collision_pairs"] = d.meta.get("sku_collision_pairs", [])
            out["unresolvable"] = {
                "sales_order_ids": d.meta.get("unresolvable_sales_order_ids", []),
                "row_ids": d.meta.get("unresolvable_row_ids", []),
            }
            out["paging_mutations"] = self.paging_mutations
            return out

    def dump(self) -> dict[str, Any]:
        """Everything, deleted and archived included, in wire form (before any number fuzz)."""
        with self.lock:
            d = self.data
            return {
                "meta": {**d.meta, "clock": iso(self.clock.peek())},
                "factory": d.factory,
                "locations": list(d.locations.values()),
                "tax_rates": list(d.tax_rates.values()),
                "products": [self.item_view(i, True) for i in self.items("product")],
                "materials": [self.item_view(i, True) for i in self.items("material")],
                "services": [self.item_view(i, True) for i in self.items("service")],
                "variants": [v for v in d.variants.values() if v["type"] != "service"],
                "customers": list(d.customers.values()),
                "sales_orders": list(d.sales_orders.values()),
            }
