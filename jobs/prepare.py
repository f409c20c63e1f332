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

from jobs.control import RunControl
from jobs.engine import Engine, Handler, Item, Recorder, mark_unchanged
from jobs.scope import Scope, full_scope, split_ref
from jobs.upserts import Upserts
from syncsvc.clients.katana import KatanaClient
from syncsvc.clients.luca import LucaClient
from syncsvc.domain.convert import as_int, canonical_code, to_decimal
from syncsvc.domain.errors import ConflictError, MappingError, PermanentError, SyncError, TransientError, Unavailable
from syncsvc.domain.mapping import LucaTenant, customer_code, map_customer, map_invoice, map_stock_card
from syncsvc.domain.model import Plan
from syncsvc.keys import Keys, as_str
from syncsvc.settings import Settings

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
    control: RunControl
    dry_run: bool
    scope: Scope = field(default_factory=full_scope)


@dataclass
class Prepared:
    items: list[Item]
    handler: Handler
    extra: dict[str, Any] = field(default_factory=dict)
    # item key -> the Katana record behind it (``variant:5``): what the retry set re-reads.
    refs: dict[str, str] = field(default_factory=dict)


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
    return Keys(settings.key_prefix).code_conflicts()


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
    ctx.control.set_phase("warming")
    try:
        yield
    except TransientError as exc:
        raise Unavailable(f"could not read Luca's current records: {exc}") from exc


def _removed(record: Mapping[str, Any], parent: Mapping[str, Any] | None = None) -> str | None:
    """Why a record read with include_deleted/include_archived is no longer live, or None."""
    for what, rec in (("", record), ("its item ", parent or {})):
        if isinstance(rec, Mapping) and rec.get("deleted_at"):
            return f"{what}deleted in Katana at {rec['deleted_at']}; left as it is in Luca"
        if isinstance(rec, Mapping) and rec.get("archived_at"):
            return f"{what}archived in Katana at {rec['archived_at']}; left as it is in Luca"
    return None


def _with_parent(items: Iterable[Mapping[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Variants embedded in products/materials/services read by id, shaped like
    ``/variants?extend=product_or_material`` rows."""
    out = []
    for item in items:
        parent = {k: v for k, v in item.items() if k != "variants"}
        for variant in item.get("variants") or []:
            if isinstance(variant, Mapping):
                row = {**variant, "product_or_material": parent}
                if kind == "service":
                    row["type"] = "service"
                out.append(row)
    return out


def prepare_products(ctx: RunContext, limit: int | None) -> Prepared:
    scope = ctx.scope
    scope.watermark.begin()
    with warming(ctx):
        tenant = LucaTenant(units=ctx.luca.units())
    ctx.control.set_phase("fetching")
    # Each page is mapped as it arrives and its raw rows dropped: the engine needs the plans, not
    # Katana's JSON (which is twice their size).
    mapped: dict[Any, Item] = {}
    gone: dict[Any, Item] = {}
    sku_of: dict[Any, Any] = {}
    ref_of: dict[Any, str] = {}

    def take(page: list[dict[str, Any]]) -> None:
        scope.watermark.observe(page)
        for variant in page:
            vid = variant.get("id")
            parent = variant.get("product_or_material")
            ref_of.setdefault(vid, f"service:{parent.get('id')}" if variant.get("type") == "service"
                              and isinstance(parent, Mapping) else f"variant:{vid}")  # fmt: skip
            reason = _removed(variant, parent if isinstance(parent, Mapping) else None)
            if reason is not None:
                if vid not in mapped:
                    why = f"SKU {variant.get('sku')!r} {reason}"
                    gone[vid] = Item(key=f"variant:{vid}", kind="stock_card", gone=why)
                continue
            if limit is not None and len(mapped) >= limit and vid not in mapped:
                continue
            gone.pop(vid, None)
            sku_of[vid] = variant.get("sku")
            mapped[vid] = card_item(variant, ctx.settings, tenant)

    def take_services(page: list[dict[str, Any]]) -> None:
        scope.watermark.observe(page)
        if scope.mode == "full":
            take(_flatten_services(page))
        else:
            take(_with_parent(page, "service"))

    extend = {"extend": "product_or_material"}
    if scope.mode == "full":
        ctx.katana.scan("variants", extend, on_page=take, max_items=limit)
        if limit is None or len(mapped) < limit:
            ctx.katana.scan("services", on_page=take_services)
    elif scope.mode == "incremental":
        ctx.katana.scan("variants", {**extend, **scope.window}, on_page=take, max_items=limit, growing=limit is None)
        if limit is None or len(mapped) < limit:
            ctx.katana.scan("services", scope.window, on_page=take_services, growing=True)
    wanted = scope.refs_of("variant", "product", "material", "service")
    everything = {"include_deleted": "true", "include_archived": "true"}
    take(ctx.katana.get_by_ids("variants", wanted["variant"] - mapped.keys() - gone.keys(), {**extend, **everything}))
    for kind in ("product", "material", "service"):
        if wanted[kind]:
            rows = ctx.katana.get_by_ids(f"{kind}s", wanted[kind], everything)
            scope.watermark.observe(rows)
            take(_with_parent(rows, kind))
    for vid in sorted(wanted["variant"] - mapped.keys() - gone.keys()):
        gone[vid] = Item(key=f"variant:{vid}", kind="stock_card", gone="not in Katana any more; left as it is in Luca")
        ref_of[vid] = f"variant:{vid}"
    items = reject_conflicts(
        mapped.values(), sku_of, ctx.settings, ctx.conn, whole_catalogue=limit is None and scope.mode == "full"
    )
    refs: dict[str, str] = {}
    for item in items:
        source = item.plan.source_id if item.plan is not None else _id_in_key(item.key)
        if source in ref_of:
            refs[item.key] = ref_of[source]
    refs.update({item.key: ref_of[vid] for vid, item in gone.items()})
    with warming(ctx):
        warm = _warm_cards(ctx)
    ctx.upserts.cards.prefetch(i.key for i in items if i.plan is not None)
    mark_unchanged(items, ctx.upserts.cards.unchanged)
    extra = {"katanaVariants": len(mapped), "katanaGone": len(gone), "cacheWarmUp": warm}
    return Prepared([*items, *gone.values()], ctx.upserts.stock_card, extra, refs)


def _id_in_key(key: str) -> int | None:
    parsed = split_ref(key)
    return parsed[1] if parsed is not None else None


WARM_MAX_AGE_S = 6 * 3600
"""A run that reads only changes re-lists Luca's stock cards when the cache was last warmed
longer ago than this (a full run always does). Skipping the list is safe: the cache is an
accelerator, and a card created in Luca by someone else is adopted when Luca answers "code
already used"."""


def _warm_cards(ctx: RunContext) -> dict[str, Any]:
    if ctx.scope.mode != "full" and ctx.upserts.cards.age_s() < WARM_MAX_AGE_S:
        return {"skipped": "cache warm", "entries": ctx.upserts.cards.count()}
    return ctx.upserts.cards.warm(ctx.luca.stock_cards)


def prepare_customers(ctx: RunContext, limit: int | None) -> Prepared:
    scope = ctx.scope
    scope.watermark.begin()
    ctx.control.set_phase("fetching")
    if scope.mode == "full":
        customers = ctx.katana.list_all("customers", max_items=limit)[:limit]
    elif scope.mode == "incremental":
        customers = ctx.katana.list_all("customers", scope.window, max_items=limit, growing=limit is None)[:limit]
    else:
        customers = []
    scope.watermark.observe(customers)
    seen = {as_int(c.get("id")) for c in customers}
    wanted = scope.refs_of("customer")["customer"] - seen
    extra_rows = ctx.katana.get_by_ids("customers", wanted, {"include_deleted": "true"})
    scope.watermark.observe(extra_rows)
    customers += extra_rows
    low, high = _prefix_range(ctx.settings.customer_code_template.split("{id}")[0])
    with warming(ctx):
        warm = ctx.upserts.customers.warm(partial(ctx.luca.customers, low, high))
    items: list[Item] = []
    refs: dict[str, str] = {}
    for c in customers:
        cid = c.get("id")
        item = _safe_map(f"customer:{cid}", "customer", partial(map_customer, c, ctx.settings))
        reason = _removed(c)
        if reason is not None:
            item = Item(key=item.key, kind="customer", gone=reason)
        items.append(item)
        refs[item.key] = f"customer:{cid}"
    found = {as_int(c.get("id")) for c in customers}
    for cid in sorted(i for i in wanted if i not in found):
        key = f"customer:{cid}"
        items.append(Item(key=key, kind="customer", gone="not in Katana any more; left as it is in Luca"))
        refs[key] = key
    ctx.upserts.customers.prefetch(i.key for i in items if i.plan is not None)
    mark_unchanged(items, ctx.upserts.customers.unchanged)
    extra = {"katanaCustomers": len(customers), "cacheWarmUp": warm}
    return Prepared(items, ctx.upserts.customer, extra, refs)


def prepare_invoices(ctx: RunContext, limit: int | None) -> Prepared:
    s, katana, scope = ctx.settings, ctx.katana, ctx.scope
    scope.watermark.begin()
    ctx.control.set_phase("fetching")
    orders: list[dict[str, Any]] = []
    for status in s.invoice_statuses if scope.mode in ("full", "incremental") else ():
        params = {"status": status, **(scope.window if scope.mode == "incremental" else {})}
        orders += katana.list_all("sales_orders", params, max_items=limit, growing=scope.mode == "incremental")
    seen = {as_int(o.get("id")) for o in orders}
    wanted = scope.refs_of("order")["order"]
    orders += [
        o
        for o in katana.get_by_ids("sales_orders", wanted - seen, {"include_deleted": "true"})
        if o.get("status") in s.invoice_statuses
    ]
    scope.watermark.observe(orders)
    gone = [
        Item(key=f"order:{o.get('id')}", kind="invoice", gone=f"order {o.get('order_no')} {reason}")
        for o in orders
        if (reason := _removed(o)) is not None
    ]
    found = {as_int(o.get("id")) for o in orders}
    gone += [
        Item(key=f"order:{oid}", kind="invoice", gone="not an invoiceable order in Katana any more; Luca untouched")
        for oid in sorted(wanted - found)
    ]
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
        warm["stockCards"] = _warm_cards(ctx)

    items = [
        _safe_map(f"order:{o.get('id')}", "invoice", partial(map_invoice, o, variants, tax_rates, s, tenant))
        for o in orders
    ]
    ensured = _ensure_dependencies(ctx, items, customers, variants, tenant)
    ctx.upserts.invoices.prefetch(i.key for i in items if i.plan is not None)
    refs = {item.key: f"order:{o.get('id')}" for item, o in zip(items, orders, strict=True)}
    refs.update({item.key: item.key for item in gone})
    extra = {"katanaOrders": len(orders), "katanaGone": len(gone), "cacheWarmUp": warm, "ensured": ensured}
    return Prepared([*items, *gone], ctx.upserts.invoice, extra, refs)


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
        ctx.control.set_phase(f"ensuring {kind}")
        # Dependencies are not items of this run: their counts go to the summary, failures to the
        # invoices that needed them.
        engine = Engine(s, ctx.control, Recorder(lambda _rows: None, s.batch_size))
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
