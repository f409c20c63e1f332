"""Admin routes (``/_admin/...``): reset, faults, observability, mutations, clock.

No auth, no rate limit, not logged, loopback only (enforced in ``app.py``). Errors are plain
``{"error": "..."}`` with 400/404 so tests see what they got wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request

from sandbox.katana.data import GenOptions, parse_range
from sandbox.katana.encoding import iso
from sandbox.katana.requestlog import mask_key
from sandbox.katana.state import Invalid, NotFound, Record
from sandbox.katana.web import json_response

if TYPE_CHECKING:
    from sandbox.katana.simulator import Simulator

KINDS = {"products": "product", "materials": "material", "services": "service"}


def _fail(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def gen_options(base: GenOptions, body: dict[str, Any]) -> GenOptions:
    """Reset body ``{seed, products, customers, orders, variants_per_product}`` over CLI defaults."""
    changes: dict[str, Any] = {}
    for key in ("seed", "products", "customers", "orders"):
        if key in body:
            value = body[key]
            if not isinstance(value, int) or isinstance(value, bool) or (key != "seed" and value < 0):
                raise Invalid(f"{key} must be a non-negative integer")
            changes[key] = value
    if "variants_per_product" in body:
        spec = body["variants_per_product"]
        lo, hi = parse_range(spec if isinstance(spec, str) else "-".join(map(str, spec)))
        changes.update(variants_min=lo, variants_max=hi)
    return replace(base, **changes)


def register(app: Flask, sim: Simulator) -> None:
    store = sim.store

    def guarded(action: Callable[[], Any]) -> Response:
        try:
            result = action()
        except NotFound as exc:
            return _fail(404, f"not found: {exc}")
        except (Invalid, ValueError, TypeError) as exc:
            return _fail(400, str(exc))
        with store.lock:
            return json_response(result)

    @app.post("/_admin/reset")
    def reset() -> Response:
        def run() -> dict[str, Any]:
            sim.reset(gen_options(sim.cfg.gen, _body()))
            return store.stats()

        return guarded(run)

    @app.get("/_admin/stats")
    def stats() -> Response:
        return json_response({**store.stats(), "requests": sim.log.counts()})

    @app.get("/_admin/dump")
    def dump() -> Response:
        with store.lock:
            return json_response(store.dump())

    @app.route("/_admin/faults", methods=["GET", "POST"])
    def faults() -> Response:
        if request.method == "GET":
            return json_response(sim.faults.current.as_json())
        return guarded(lambda: sim.set_faults(_body()).as_json())

    @app.route("/_admin/requests", methods=["GET", "DELETE"])
    def requests_log() -> Response:
        if request.method == "DELETE":
            sim.log.clear()
            return json_response({"cleared": True, **sim.log.counts()})
        since = request.args.get("since", "0")
        entries = sim.log.since(int(since) if since.isdigit() else 0)
        return json_response({"requests": entries, "next_index": sim.log.counts()["next_index"]})

    @app.get("/_admin/ratelimit")
    def ratelimit() -> Response:
        buckets = {mask_key(k) or k: v for k, v in sim.limiter.snapshot().items()}
        return json_response(
            {
                "limit": sim.limiter.limit,
                "period_seconds": sim.limiter.period,
                "reset_unit": "seconds" if sim.cfg.reset_in_seconds else "milliseconds",
                "buckets": buckets,
            }
        )

    @app.route("/_admin/clock", methods=["GET", "POST"])
    def clock() -> Response:
        if request.method == "POST":
            body = _body()
            seconds = body.get("advance_seconds", 0)
            if not isinstance(seconds, int | float) or isinstance(seconds, bool):
                return _fail(400, "advance_seconds must be a number")
            return guarded(lambda: {"now": iso(sim.clock.advance(float(seconds)))})
        return json_response({"now": iso(sim.clock.peek())})

    @app.route("/_admin/<collection>/<int:object_id>", methods=["PATCH", "DELETE"])
    def mutate(collection: str, object_id: int) -> Response:
        body = _body()
        delete = request.method == "DELETE"
        actions: dict[str, Callable[[], Record]]
        if collection in KINDS:
            kind = KINDS[collection]
            actions = {
                "PATCH": lambda: store.item_view(store.patch_item(kind, object_id, body), True),
                "DELETE": lambda: store.item_view(store.delete_item(kind, object_id), True),
            }
        elif collection == "variants":
            actions = {
                "PATCH": lambda: store.patch_variant(object_id, body),
                "DELETE": lambda: store.delete_variant(object_id),
            }
        elif collection == "customers":
            actions = {
                "PATCH": lambda: store.patch_customer(object_id, body),
                "DELETE": lambda: store.delete_customer(object_id),
            }
        elif collection == "sales_orders":
            actions = {
                "PATCH": lambda: store.patch_sales_order(object_id, body),
                "DELETE": lambda: store.delete_sales_order(object_id),
            }
        else:
            return _fail(404, f"no admin mutations for {collection}")
        return guarded(actions["DELETE" if delete else "PATCH"])

    @app.post("/_admin/<collection>")
    def create_item(collection: str) -> Response:
        """Create a product/material (``{name, variants:[{sku, sales_price, ...}], ...}``) or a
        variant (``{product_id|material_id, sku, ...}``), as a Katana user would."""
        body = _body()
        if collection in KINDS and not isinstance(body.get("name"), str):
            return _fail(400, "name: a string is required")
        if collection in KINDS:
            return guarded(lambda: store.item_view(store.create_item(KINDS[collection], body)))
        if collection == "variants":
            return guarded(lambda: store.create_variant(body))
        return _fail(404, f"no admin create for {collection}")

    @app.post("/_admin/sales_orders")
    def create_order() -> Response:
        return guarded(lambda: store.create_sales_order(_body()))

    @app.post("/_admin/sales_orders/<int:so_id>/deliver")
    def deliver(so_id: int) -> Response:
        return guarded(lambda: store.deliver(so_id))
