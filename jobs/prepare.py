"""Per sync type: fetch from Katana, warm the caches from Luca, map to plans.

Everything here happens before the first Luca write. Katana is read in bulk (pages of 250,
``ids=`` look-ups), never one request per row.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import redis

from jobs.engine import Engine, Handler, Item, Recorder, Reporter
from jobs.upserts import Upserts
from syncsvc.clients.katana import KatanaClient
from syncsvc.clients.luca import LucaClient
from syncsvc.domain.convert import as_int, canonical_code, to_decimal
from syncsvc.domain.errors import ConflictError, MappingError, PermanentError, SyncError, TransientError, Unavailable
from syncsvc.domain.mapping import LucaTenant, customer_code, map_customer, map_invoice, map_stock_card
from syncsvc.domain.model import Plan
from syncsvc.settings import Settings
from syncsvc.store.cache import as_str

log = logging.getLogger(__name__)


class DependencyError(PermanentError):
    """An invoice's cari or stock card could not be made to exist."""


@dataclass
class RunContext:
    settings: Settings
    conn: redis.Redis
    katana: KatanaClient
    luca: LucaClient
    upserts: Upserts
    reporter: Reporter
    dry_run: bool


@dataclass
class Prepared:
    items: list[Item]
    handler: Handler
    extra: dict[str, Any] = field(default_factory=dict)


def _detached(exc: SyncError) -> SyncError:
    """The error without its traceback and context. An item keeps its error until the run ends,
    and a traceback keeps every frame above it alive (``f_back``): one failed variant would pin
    the whole Katana page its mapping was called from."""
    exc.__traceback__ = exc.__context__ = exc.__cause__ = None
    return exc


def _safe_map(key: str, kind: str, build: Callable[[], Plan]) -> Item:
    """Hostile Katana data must fail its own item, never the batch."""
    try:
        plan = build()
    except SyncError as exc:
        return Item(key=key, kind=kind, error=_detached(exc))
    except Exception as exc:  # noqa: BLE001 - anything unexpected in one record is that record's failure
        error = MappingError(f"unexpected data ({type(exc).__name__}: {exc})")
        return Item(key=key, kind=kind, error=_detached(error))
    return Item(key=plan.key, kind=kind, plan=plan)


def _conflicts_key(settings: Settings) -> str:
    return settings.redis_key("luca", "stockcard", "conflicts")


def card_item(variant: Mapping[str, Any], settings: Settings, tenant: LucaTenant) -> Item:
    key = f"variant:{variant.get('id') if isinstance(variant, Mapping) else '?'}"
    return _safe_map(key, "stock_card", partial(map_stock_card, variant, settings, tenant))


def reject_conflicts(
    items: Iterable[Item],
    sku_of: Mapping[Any, Any],
    settings: Settings,
    conn: redis.Redis | None = None,
    whole_catalogue: bool = False,
) -> list[Item]:
    """SKUs that canonicalise to one code all fail (never a silent merge).

    Conflicts are remembered in Redis for runs that see only part of the catalogue (an INVOICE
    run's dependencies). A run over the whole catalogue knows them all, so it replaces the set:
    once the SKUs are made distinct in Katana the codes are free again.
    """
    items = list(items)
    by_code: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        if item.plan is not None:
            by_code[item.key].append(item)
    known: set[str] = set()
    if conn is not None and not whole_catalogue:
        known = {as_str(c) for c in conn.smembers(_conflicts_key(settings))}
    out: list[Item] = [i for i in items if i.plan is None]
    conflicts: list[str] = []
    for code, group in by_code.items():
        if len(group) == 1 and code not in known:
            out.append(group[0])
            continue
        skus = sorted(f"{sku_of.get(g.plan.source_id)!r} (variant {g.plan.source_id})" for g in group if g.plan)
        reason = (
            f"several Katana SKUs become Luca code {code!r}: {', '.join(skus)}; make the SKUs distinct"
            if len(group) > 1
            else f"Luca code {code!r} is shared by several Katana SKUs (see the PRODUCT run)"
        )
        conflicts.append(code)
        for g in group:
            source = g.plan.source_id if g.plan else "?"
            out.append(Item(key=f"variant:{source}", kind="stock_card", error=ConflictError(reason)))
    if conn is not None:
        pipe = conn.pipeline(transaction=True)
        if whole_catalogue:
            pipe.delete(_conflicts_key(settings))
        if conflicts:
            pipe.sadd(_conflicts_key(settings), *conflicts)
        pipe.execute()
    return out


def card_items(
    variants: Iterable[Mapping[str, Any]], settings: Settings, tenant: LucaTenant, conn: redis.Redis | None = None
) -> list[Item]:
    """Map variants to stock-card items, conflicts rejected."""
    variants = list(variants)
    sku_of = {v.get("id"): v.get("sku") for v in variants if isinstance(v, Mapping)}
    return reject_conflicts((card_item(v, settings, tenant) for v in variants), sku_of, settings, conn)


def _by_id(rows: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """Index Katana records by id; a record without a usable id can't be referenced anyway."""
    out: dict[int, Mapping[str, Any]] = {}
    for row in rows:
        rid = as_int(row.get("id"))
        if rid is not None:
            out[rid] = row
    return out


def _flatten_services(services: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for service in services:
        for variant in service.get("variants") or []:
            if isinstance(variant, Mapping) and not variant.get("deleted_at"):
                out.append({**variant, "type": "service", "product_or_material": service})
    return out


def _prefix_range(prefix: str) -> tuple[str, str] | tuple[None, None]:
    return (prefix, prefix + "\uffff") if prefix else (None, None)


@contextmanager
def warming(ctx: RunContext) -> Iterator[None]:
    """Warm-up reads that still fail after their retries abort the run: without Luca's own list
    we can't tell what exists, and guessing is how duplicates are made."""
    ctx.reporter.set_phase("warming")
    try:
        yield
    except TransientError as exc:
        raise Unavailable(f"could not read Luca's current records: {exc}") from exc


def prepare_products(ctx: RunContext, limit: int | None) -> Prepared:
    with warming(ctx):
        tenant = LucaTenant(units=ctx.luca.units())
    ctx.reporter.set_phase("fetching")
    # Each page is mapped as it arrives and its raw rows dropped: the engine needs the plans, not
    # Katana's JSON (which is twice their size).
    mapped: dict[Any, Item] = {}
    sku_of: dict[Any, Any] = {}

    def take(page: list[dict[str, Any]]) -> None:
        for variant in page:
            vid = variant.get("id")
            if variant.get("deleted_at") or (limit is not None and len(mapped) >= limit and vid not in mapped):
                continue
            sku_of[vid] = variant.get("sku")
            mapped[vid] = card_item(variant, ctx.settings, tenant)

    ctx.katana.scan("variants", {"extend": "product_or_material"}, on_page=take, max_items=limit)
    if limit is None or len(mapped) < limit:
        ctx.katana.scan("services", on_page=lambda page: take(_flatten_services(page)))
    items = reject_conflicts(mapped.values(), sku_of, ctx.settings, ctx.conn, whole_catalogue=limit is None)
    with warming(ctx):
        warm = ctx.upserts.cards.warm(ctx.luca.stock_cards)
    ctx.upserts.cards.prefetch(i.key for i in items if i.plan is not None)
    return Prepared(items, ctx.upserts.stock_card, {"katanaVariants": len(mapped), "cacheWarmUp": warm})


def prepare_customers(ctx: RunContext, limit: int | None) -> Prepared:
    ctx.reporter.set_phase("fetching")
    customers = ctx.katana.list_all("customers", max_items=limit)[:limit]
    low, high = _prefix_range(ctx.settings.customer_code_template.split("{id}")[0])
    with warming(ctx):
        warm = ctx.upserts.customers.warm(partial(ctx.luca.customers, low, high))
    items = [
        _safe_map(f"customer:{c.get('id')}", "customer", partial(map_customer, c, ctx.settings)) for c in customers
    ]
    ctx.upserts.customers.prefetch(i.key for i in items if i.plan is not None)
    return Prepared(items, ctx.upserts.customer, {"katanaCustomers": len(customers), "cacheWarmUp": warm})


def prepare_invoices(ctx: RunContext, limit: int | None) -> Prepared:
    s, katana = ctx.settings, ctx.katana
    ctx.reporter.set_phase("fetching")
    orders: list[dict[str, Any]] = []
    for status in s.invoice_statuses:
        orders += katana.list_all("sales_orders", {"status": status}, max_items=limit)
    orders = [o for o in orders if not o.get("deleted_at")][:limit]
    rows = [r for o in orders for r in o.get("sales_order_rows") or [] if isinstance(r, Mapping)]
    variant_ids = {i for i in (as_int(r.get("variant_id")) for r in rows) if i is not None}
    variants = _by_id(katana.get_by_ids("variants", variant_ids, {"extend": "product_or_material"}))
    if variant_ids - variants.keys():  # service variants live under /services
        for vid, v in _by_id(_flatten_services(katana.list_all("services"))).items():
            variants.setdefault(vid, v)
    customer_ids = {i for i in (as_int(o.get("customer_id")) for o in orders) if i is not None}
    customers = _by_id(katana.get_by_ids("customers", customer_ids))
    tax_rates = {}
    for rate_id, rate in _by_id(katana.list_all("tax_rates")).items():
        try:
            tax_rates[rate_id] = to_decimal(rate.get("rate"), f"tax rate {rate_id}")
        except MappingError:
            log.warning("ignoring Katana tax rate %s with rate %r", rate_id, rate.get("rate"))

    low, high = _prefix_range(s.invoice_tracking_prefix)
    clow, chigh = _prefix_range(s.customer_code_template.split("{id}")[0])
    with warming(ctx):
        tenant = LucaTenant(units=ctx.luca.units())
        warm = {"invoices": ctx.upserts.invoices.warm(partial(ctx.luca.invoices, low or "", high or "\uffff"))}
        warm["customers"] = ctx.upserts.customers.warm(partial(ctx.luca.customers, clow, chigh))
        warm["stockCards"] = ctx.upserts.cards.warm(ctx.luca.stock_cards)

    items = [
        _safe_map(f"order:{o.get('id')}", "invoice", partial(map_invoice, o, variants, tax_rates, s, tenant))
        for o in orders
    ]
    ensured = _ensure_dependencies(ctx, items, customers, variants, tenant)
    ctx.upserts.invoices.prefetch(i.key for i in items if i.plan is not None)
    return Prepared(items, ctx.upserts.invoice, {"katanaOrders": len(orders), "cacheWarmUp": warm, "ensured": ensured})


def _ensure_dependencies(
    ctx: RunContext,
    items: list[Item],
    customers: Mapping[int, Mapping[str, Any]],
    variants: Mapping[int, Mapping[str, Any]],
    tenant: LucaTenant,
) -> dict[str, Any]:
    """Make each invoice's cari and stock cards exist (same code paths as their own syncs) or
    fail that invoice with the reason."""
    s = ctx.settings
    plans = [i.plan for i in items if i.plan is not None]
    need_customers = {p.needs_customer for p in plans if p.needs_customer}
    need_cards = {c for p in plans for c in p.needs_cards}
    missing_customers = need_customers - ctx.upserts.customers.ids(need_customers).keys()
    missing_cards = need_cards - ctx.upserts.cards.ids(need_cards).keys()

    by_code = {customer_code(cid, s): c for cid, c in customers.items()}
    customer_items = [
        _safe_map(code, "customer", partial(map_customer, by_code[code], s))
        if code in by_code
        else Item(key=code, kind="customer", error=MappingError(f"customer {code} not in Katana"))
        for code in sorted(missing_customers)
    ]
    variants_by_code: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for v in variants.values():
        try:
            code = canonical_code(v.get("sku"))
        except SyncError:
            continue
        if code in missing_cards:
            variants_by_code[code].append(v)
    card_list = card_items(
        [v for code in sorted(variants_by_code) for v in variants_by_code[code]], s, tenant, ctx.conn
    )
    code_of = {f"variant:{v.get('id')}": code for code, vs in variants_by_code.items() for v in vs}
    card_by_code: dict[str, Item] = {}
    for item in card_list:
        card_by_code.setdefault(item.plan.key if item.plan else code_of.get(item.key, item.key), item)

    failures: dict[str, str] = {}
    summary: dict[str, Any] = {}
    for kind, dep_items, handler in (
        ("customers", customer_items, ctx.upserts.customer),
        ("stockCards", list(card_by_code.values()), ctx.upserts.stock_card),
    ):
        if not dep_items:
            summary[kind] = {}
            continue
        ctx.reporter.set_phase(f"ensuring {kind}")
        # Dependencies are not items of this run: their counts go to the summary, failures to the
        # invoices that needed them.
        engine = Engine(s, ctx.reporter, Recorder(lambda _rows: None, s.batch_size))
        result = engine.run(dep_items, handler)
        summary[kind] = {k: n for k, n in result.counts.items() if k not in ("total", "processed") and n}
        for code, item in [(i.key, i) for i in dep_items] if kind == "customers" else card_by_code.items():
            found = result.failed.get(item.key)
            if found is not None:
                failures[code] = f"{found.error_class}: {found.message}"

    for item in items:
        plan = item.plan
        if plan is None:
            continue
        reasons = []
        if plan.needs_customer in failures:
            reasons.append(f"cari {plan.needs_customer} could not be created ({failures[plan.needs_customer]})")
        reasons += [f"stock card {c} could not be created ({failures[c]})" for c in plan.needs_cards if c in failures]
        reasons += [
            f"stock card {c}: no Katana variant with this code"
            for c in plan.needs_cards
            if c in missing_cards and c not in card_by_code and c not in failures
        ]
        if reasons:
            item.plan, item.error = None, DependencyError("; ".join(reasons))
    return summary
