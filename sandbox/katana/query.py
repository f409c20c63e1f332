"""List-endpoint query semantics: filters, include_deleted/archived, ordering and pagination.

Katana silently ignores unknown *and invalid* query parameters (spec §1.9): a filter whose value
does not parse is simply not applied, rather than answered with an error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.katana.encoding import iso, parse_iso

Record = dict[str, Any]
DEFAULT_LIMIT = 50
MAX_LIMIT = 250


class Query:
    """Read access to the query string (a Werkzeug MultiDict or any ``getlist`` mapping)."""

    def __init__(self, args: Any) -> None:
        self.args = args

    def raw(self, name: str) -> list[str]:
        return [v for v in self.args.getlist(name) if v != ""]

    def values(self, name: str) -> list[str]:
        """Repeated keys (``ids=1&ids=2``), plus comma-separated lists, which cost nothing."""
        out: list[str] = []
        for value in self.raw(name):
            out.extend(part.strip() for part in value.split(",") if part.strip())
        return out

    def ints(self, name: str) -> list[int] | None:
        try:
            values = [int(v) for v in self.values(name)]
        except ValueError:
            return None
        return values or None

    def flag(self, name: str) -> bool | None:
        values = self.raw(name)
        if not values:
            return None
        value = values[0].strip().lower()
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        return None

    def date(self, name: str) -> str | None:
        values = self.raw(name)
        dt = parse_iso(values[0]) if values else None
        return iso(dt) if dt else None

    def extends(self, name: str) -> bool:
        return name in self.values("extend")

    def positive_int(self, name: str) -> int | None:
        values = self.raw(name)
        try:
            value = int(values[0]) if values else None
        except ValueError:
            return None
        return value if value is not None and value >= 1 else None


@dataclass(frozen=True)
class Filter:
    """A per-resource filter: query ``param`` against record ``field``.

    kinds: ``ints`` (any of several ids), ``strs`` (any of several exact strings, e.g. sku),
    ``str`` (one exact string), ``bool``, ``num`` (numeric equality, number or decimal string).
    """

    param: str
    field: str
    kind: str


def _as_decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _predicate(q: Query, f: Filter) -> Callable[[Record], bool] | None:
    if f.kind == "ints":
        ints = q.ints(f.param)
        if ints is None:
            return None
        wanted_ints = set(ints)
        return lambda r: r.get(f.field) in wanted_ints
    if f.kind == "strs":
        whole = q.raw(f.param)
        if not whole:
            return None
        wanted = set(whole) | set(q.values(f.param))
        return lambda r: r.get(f.field) in wanted
    if f.kind == "str":
        values = q.raw(f.param)
        if not values:
            return None
        return lambda r: r.get(f.field) == values[0]
    if f.kind == "bool":
        flag = q.flag(f.param)
        if flag is None:
            return None
        return lambda r: bool(r.get(f.field)) is flag
    if f.kind == "num":
        values = q.raw(f.param)
        target = _as_decimal(values[0]) if values else None
        if target is None:
            return None
        return lambda r: r.get(f.field) is not None and _as_decimal(r[f.field]) == target
    raise ValueError(f"unknown filter kind {f.kind}")


def _time_bound(field: str, bound: str, lower: bool) -> Callable[[Record], bool]:
    if lower:
        return lambda r: bool(r[field] >= bound)
    return lambda r: bool(r[field] <= bound)


COMMON_FILTERS = (Filter("ids", "id", "ints"),)


def select(
    records: Iterable[Record],
    q: Query,
    filters: Iterable[Filter],
    deleted: Callable[[Record], bool] | None = None,
    archived: Callable[[Record], bool] | None = None,
) -> list[Record]:
    """Apply filters and visibility, then order newest first (created_at desc, id desc)."""
    preds = [p for f in (*COMMON_FILTERS, *filters) if (p := _predicate(q, f)) is not None]
    for param, field, op in (
        ("created_at_min", "created_at", "ge"),
        ("created_at_max", "created_at", "le"),
        ("updated_at_min", "updated_at", "ge"),
        ("updated_at_max", "updated_at", "le"),
    ):
        bound = q.date(param)
        if bound is not None:
            # Stored timestamps share one fixed ISO shape, so string order is time order.
            preds.append(_time_bound(field, bound, op == "ge"))
    if deleted is not None and not q.flag("include_deleted"):
        preds.append(lambda r: not deleted(r))
    if archived is not None and not q.flag("include_archived"):
        preds.append(lambda r: not archived(r))
    out = [r for r in records if all(p(r) for p in preds)]
    out.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
    return out


def page_window(q: Query) -> tuple[int, int]:
    """(page, limit) the query asks for, as :func:`paginate` reads them."""
    return q.positive_int("page") or 1, min(q.positive_int("limit") or DEFAULT_LIMIT, MAX_LIMIT)


def paginate(records: list[Record], q: Query) -> tuple[list[Record], dict[str, str]]:
    """Slice one page and build the ``X-Pagination`` header (all values strings, spec §1.8).

    Choices for unknowns: an empty result has ``total_pages`` "0" and ``last_page`` "true"; a page
    past the end is an empty 200 with ``last_page`` "true".
    """
    page, limit = page_window(q)
    total = len(records)
    pages = math.ceil(total / limit)
    offset = (page - 1) * limit
    header = {
        "total_records": str(total),
        "total_pages": str(pages),
        "offset": str(offset),
        "page": str(page),
        "first_page": "true" if page == 1 else "false",
        "last_page": "true" if page >= pages else "false",
    }
    return records[offset : offset + limit], header


def pagination_header(meta: Mapping[str, str]) -> str:
    return json.dumps(dict(meta), separators=(",", ":"))
