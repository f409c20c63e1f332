"""The public ``/v1`` routes: lists, get-by-id, and the small write surface.

Only paths the real gateway has are served (spec §2); everything else, including
``GET /v1/customers/{id}`` and any PUT, answers Katana's 404 body.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request

from sandbox.katana.query import Filter, Query, page_window, paginate, pagination_header, select
from sandbox.katana.state import Invalid, NotFound, Record
from sandbox.katana.validation import DTOS, unprocessable, validation_errors
from sandbox.katana.web import error_response, json_response

if TYPE_CHECKING:
    from sandbox.katana.simulator import Simulator


def _deleted(r: Record) -> bool:
    return r.get("deleted_at") is not None


def _archived(r: Record) -> bool:
    return r.get("archived_at") is not None


def _item_filters(*extra: Filter) -> tuple[Filter, ...]:
    return (
        Filter("name", "name", "str"),
        Filter("uom", "uom", "str"),
        Filter("category_name", "category_name", "str"),
        Filter("is_sellable", "is_sellable", "bool"),
        *extra,
    )


@dataclass(frozen=True)
class ListDef:
    records: Callable[[], Iterable[Record]]
    filters: tuple[Filter, ...]
    deleted: Callable[[Record], bool] | None
    archived: Callable[[Record], bool] | None
    view: Callable[[Record, Query], Record]


ITEM_COLLECTIONS = {"products": "product", "materials": "material", "services": "service"}


def list_defs(sim: Simulator) -> dict[str, ListDef]:
    store = sim.store

    def items(kind: str) -> ListDef:
        extra = (
            Filter("is_producible", "is_producible", "bool"),
            Filter("is_purchasable", "is_purchasable", "bool"),
            Filter("is_auto_assembly", "is_auto_assembly", "bool"),
            Filter("batch_tracked", "batch_tracked", "bool"),
            Filter("serial_tracked", "serial_tracked", "bool"),
            Filter("purchase_uom", "purchase_uom", "str"),
            Filter("default_supplier_id", "default_supplier_id", "ints"),
        )
        return ListDef(
            records=lambda: store.items(kind),
            filters=_item_filters(*(extra if kind != "service" else ())),
            deleted=_deleted,
            archived=_archived,
            view=lambda r, q: store.item_view(r, include_deleted=bool(q.flag("include_deleted"))),
        )

    return {
        **{name: items(kind) for name, kind in ITEM_COLLECTIONS.items()},
        "variants": ListDef(
            # Service variants live under /services (their shape differs; spec §2.4).
            records=lambda: (v for v in store.data.variants.values() if v["type"] != "service"),
            filters=(
                Filter("product_id", "product_id", "ints"),
                Filter("material_id", "material_id", "ints"),
                Filter("sku", "sku", "strs"),
                Filter("type", "type", "str"),
                Filter("sales_price", "sales_price", "num"),
                Filter("purchase_price", "purchase_price", "num"),
                Filter("internal_barcode", "internal_barcode", "str"),
                Filter("registered_barcode", "registered_barcode", "str"),
            ),
            deleted=_deleted,
            archived=store.variant_archived,
            view=lambda r, q: store.variant_view(r, q.extends("product_or_material")),
        ),
        "customers": ListDef(
            records=lambda: store.data.customers.values(),
            filters=tuple(
                Filter(f, f, "str")
                for f in (
                    "name",
                    "first_name",
                    "last_name",
                    "company",
                    "email",
                    "reference_id",
                    "category",
                    "currency",
                    "phone",
                )
            ),  # fmt: skip
            deleted=_deleted,
            archived=None,
            view=lambda r, q: r,
        ),
        "sales_orders": ListDef(
            records=lambda: store.data.sales_orders.values(),
            filters=(
                Filter("status", "status", "strs"),
                Filter("customer_id", "customer_id", "ints"),
                Filter("order_no", "order_no", "str"),
                Filter("location_id", "location_id", "ints"),
                Filter("currency", "currency", "str"),
                Filter("source", "source", "str"),
                Filter("invoicing_status", "invoicing_status", "str"),
                Filter("production_status", "production_status", "str"),
                Filter("product_availability", "product_availability", "str"),
                Filter("ecommerce_order_type", "ecommerce_order_type", "str"),
                Filter("ecommerce_store_name", "ecommerce_store_name", "str"),
                Filter("ecommerce_order_id", "ecommerce_order_id", "str"),
            ),
            deleted=_deleted,
            archived=None,
            view=lambda r, q: r,
        ),
        "sales_order_rows": ListDef(
            records=store.rows,
            filters=(
                Filter("sales_order_ids", "sales_order_id", "ints"),
                Filter("variant_id", "variant_id", "ints"),
                Filter("tax_rate_id", "tax_rate_id", "ints"),
                Filter("location_id", "location_id", "ints"),
            ),
            deleted=store.row_deleted,
            archived=None,
            view=lambda r, q: store.row_view(r, q.extends("variant")),
        ),
        "tax_rates": ListDef(
            records=lambda: store.data.tax_rates.values(),
            filters=(
                Filter("rate", "rate", "num"),
                Filter("name", "name", "str"),
                Filter("is_default_sales", "is_default_sales", "bool"),
                Filter("is_default_purchases", "is_default_purchases", "bool"),
            ),
            deleted=None,
            archived=None,
            view=lambda r, q: r,
        ),
        "locations": ListDef(
            records=lambda: store.data.locations.values(),
            filters=(
                Filter("name", "name", "str"),
                Filter("legal_name", "legal_name", "str"),
                Filter("is_primary", "is_primary", "bool"),
                Filter("sales_allowed", "sales_allowed", "bool"),
                Filter("manufacturing_allowed", "manufacturing_allowed", "bool"),
                Filter("purchases_allowed", "purchase_allowed", "bool"),
            ),
            deleted=_deleted,
            archived=None,
            view=lambda r, q: r,
        ),
    }


def register(app: Flask, sim: Simulator) -> None:
    store = sim.store
    lists = list_defs(sim)

    def out(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return json_response(obj, status, headers, numbers_as_strings=sim.faults.current.numbers_as_strings)

    @app.get("/v1/<collection>")
    def list_collection(collection: str) -> Response:
        if collection == "factory":
            with store.lock:
                return out(store.data.factory)
        spec = lists.get(collection)
        if spec is None:
            return error_response(404)
        faults = sim.faults.current
        q = Query(request.args)
        if faults.mutate_during_paging:
            if collection == "variants":
                with store.lock:
                    ordered = select(spec.records(), q, spec.filters, spec.deleted, spec.archived)
                    store.mutate_variants_for_paging(ordered, *page_window(q), sim.rng)
            else:
                store.mutate_for_paging(collection, sim.rng)
        if faults.slow_page_probability and sim.rng.random() < faults.slow_page_probability:
            time.sleep(faults.slow_page_ms / 1000)
        with store.lock:
            matched = select(spec.records(), q, spec.filters, spec.deleted, spec.archived)
            page, meta = paginate(matched, q)
            return out({"data": [spec.view(r, q) for r in page]}, headers={"X-Pagination": pagination_header(meta)})

    def lookup(collection: str, object_id: int) -> Record | None:
        """The live record behind ``/v1/<collection>/<id>``, or None (404)."""
        try:
            if collection in ITEM_COLLECTIONS:
                rec = store.item(ITEM_COLLECTIONS[collection], object_id)
            elif collection == "variants":
                rec = store.variant(object_id)
                if rec["type"] == "service":
                    return None
            elif collection == "sales_orders":
                rec = store.sales_order(object_id)
            elif collection == "sales_order_rows":
                rec = store._rows[object_id]
            elif collection == "locations":
                rec = store.data.locations[object_id]
            else:
                return None
        except (NotFound, KeyError):
            return None
        return None if _deleted(rec) else rec

    def view(collection: str, rec: Record, q: Query) -> Record:
        spec = lists[collection]
        return spec.view(rec, q)

    @app.get("/v1/<collection>/<int:object_id>")
    def get_one(collection: str, object_id: int) -> Response:
        # customers, tax_rates and suppliers have no GET by id in the gateway: lookup() says 404.
        with store.lock:
            rec = lookup(collection, object_id)
            if rec is None:
                return error_response(404)
            return out(view(collection, rec, Query(request.args)))

    def body_or_422(collection: str, method: str) -> tuple[dict[str, Any] | None, Response | None]:
        body = request.get_json(silent=True)
        details = validation_errors(collection, method, body)
        if details:
            return None, out(unprocessable(details), 422)
        assert isinstance(body, dict)
        return body, None

    @app.post("/v1/<collection>")
    def create(collection: str) -> Response:
        if (collection, "POST") not in DTOS:
            return error_response(404)
        body, problem = body_or_422(collection, "POST")
        if problem is not None or body is None:
            return problem or error_response(404)
        try:
            with store.lock:
                if collection == "customers":
                    return out(store.create_customer(body))
                if collection == "tax_rates":
                    return out(store.create_tax_rate(body))
                if collection == "sales_orders":
                    return out(store.create_sales_order(body))
                if collection in ITEM_COLLECTIONS:
                    item = store.create_item(ITEM_COLLECTIONS[collection], body)
                    return out(store.item_view(item))
                return out(store.create_variant(body))
        except Invalid as exc:
            return out(unprocessable([{"path": "", "code": "invalid", "message": str(exc), "info": {}}]), 422)

    @app.patch("/v1/<collection>/<int:object_id>")
    def patch(collection: str, object_id: int) -> Response:
        if (collection, "PATCH") not in DTOS:
            return error_response(404)
        with store.lock:
            if lookup(collection, object_id) is None and collection != "customers":
                return error_response(404)
            body, problem = body_or_422(collection, "PATCH")
            if problem is not None or body is None:
                return problem or error_response(404)
            try:
                if collection in ITEM_COLLECTIONS:
                    return out(store.item_view(store.patch_item(ITEM_COLLECTIONS[collection], object_id, body)))
                if collection == "variants":
                    return out(store.patch_variant(object_id, body))
                if collection == "customers":
                    return out(store.patch_customer(object_id, body))
                return out(store.patch_sales_order(object_id, body))
            except NotFound:
                return error_response(404)
            except Invalid as exc:
                return out(unprocessable([{"path": "", "code": "invalid", "message": str(exc), "info": {}}]), 422)

    deleters: dict[str, Callable[[int], Record]] = {
        "products": lambda i: store.delete_item("product", i),
        "materials": lambda i: store.delete_item("material", i),
        "services": lambda i: store.delete_item("service", i),
        "variants": store.delete_variant,
        "customers": store.delete_customer,
        "sales_orders": store.delete_sales_order,
    }

    @app.delete("/v1/<collection>/<int:object_id>")
    def delete(collection: str, object_id: int) -> Response:
        deleter = deleters.get(collection)
        if deleter is None:
            return error_response(404)
        with store.lock:
            try:
                rec = lookup(collection, object_id) if collection != "customers" else store.customer(object_id)
            except NotFound:
                rec = None
            if rec is None or _deleted(rec):
                return error_response(404)
            deleter(object_id)
        return Response(status=204)
