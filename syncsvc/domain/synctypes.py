"""The one registry of sync types: adding a type touches this table and that type's own
prepare/upsert code, nothing else.

The API's and CLI's choices, the worker's dispatch, the run lock and the start claim are all
derived from :data:`SYNC_TYPES`. ``prepare`` is a dotted path (``module.function``) because the
domain layer imports nothing above it; :func:`jobs.run.prepare_of` resolves it in the worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class SyncType:
    name: str
    description: str
    prepare: str
    """Dotted path of ``prepare(ctx: RunContext, limit: int | None) -> Prepared``."""
    depends_on: tuple[str, ...] = ()
    """Types whose records this one ensures first (through their own upsert code)."""
    katana_resources: tuple[str, ...] = ()
    """Katana list endpoints read (GET only: nothing is written to Katana)."""
    luca_record: str = ""
    """What Luca receives; also the cache kind of its SKU/code -> id hash."""


_TYPES = (
    SyncType(
        "PRODUCT",
        "Katana variants (products, materials, services) -> Luca stock cards",
        "jobs.prepare.prepare_products",
        katana_resources=("variants", "services"),
        luca_record="stockcard",
    ),
    SyncType(
        "CUSTOMER",
        "Katana customers -> Luca cari accounts",
        "jobs.prepare.prepare_customers",
        katana_resources=("customers",),
        luca_record="customer",
    ),
    SyncType(
        "INVOICE",
        "delivered Katana sales orders -> Luca sales invoices (cari and stock cards ensured first)",
        "jobs.prepare.prepare_invoices",
        depends_on=("CUSTOMER", "PRODUCT"),
        katana_resources=("sales_orders", "variants", "services", "customers", "tax_rates"),
        luca_record="invoice",
    ),
)

SYNC_TYPES: Mapping[str, SyncType] = MappingProxyType({t.name: t for t in _TYPES})
SYNC_TYPE_NAMES: tuple[str, ...] = tuple(SYNC_TYPES)
"""In the order the API documents them: PRODUCT, CUSTOMER, INVOICE."""


def sync_type(name: str) -> SyncType:
    """The registered type; ``KeyError`` names the allowed ones."""
    try:
        return SYNC_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown sync type {name!r}; known: {', '.join(SYNC_TYPE_NAMES)}") from None
