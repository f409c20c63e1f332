"""List actions: filter objects keyed by Java entity names, range triples, and paging (§3.3–3.4)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, TypeVar

from sandbox.luca.encoding import MalformedBody
from sandbox.luca.validation import as_int, parse_date

T = TypeVar("T", str, int, date)
Record = dict[str, Any]


def sub_filter(body: Mapping[str, Any], *path: str) -> dict[str, Any]:
    """Follow ``path`` into the body; absent levels mean "no filter", non-objects are malformed."""
    node: Any = body
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return {}
        if not isinstance(node, dict):
            raise MalformedBody(f"filter {key!r} is not an object")
    return dict(node)


def by_range(
    records: Iterable[Record],
    flt: Mapping[str, Any],
    name: str,
    get: Callable[[Record], Any],
    convert: Callable[[Any, str], T],
) -> list[Record]:
    """Inclusive ``<name>Bas``..``<name>Bit`` with ``<name>Op: "between"`` (either end optional)."""
    records = list(records)
    low_raw, high_raw, op = flt.get(f"{name}Bas"), flt.get(f"{name}Bit"), flt.get(f"{name}Op")
    if low_raw in (None, "") and high_raw in (None, ""):
        return records
    if op not in (None, "between"):
        raise MalformedBody(f"unsupported operator {op!r}")
    low = None if low_raw in (None, "") else convert(low_raw, f"{name}Bas")
    high = None if high_raw in (None, "") else convert(high_raw, f"{name}Bit")
    out = []
    for record in records:
        raw = get(record)
        if raw in (None, ""):
            continue
        value = convert(raw, name)
        if (low is None or value >= low) and (high is None or value <= high):
            out.append(record)
    return out


def text(value: Any, _name: str) -> str:
    # Lexical, case-sensitive comparison on the stored code, like the origin's kodBit=sku+"ZZZZ".
    return str(value)


def integer(value: Any, name: str) -> int:
    return as_int(value, name)


def day(value: Any, name: str) -> date:
    return parse_date(value, name)


def envelope(items: list[Record], page_no: int, page_size: int, no_paging: bool) -> dict[str, Any]:
    """The Koza list envelope: ``size`` is the total, ``numberOfPage`` the page count.

    Without ``No-Paging`` only one page comes back, silently (F21): the client must look at
    ``numberOfPage``/``size`` or send the header.
    """
    total = len(items)
    pages = -(-total // page_size)
    page = items if no_paging else items[(page_no - 1) * page_size : page_no * page_size]
    return {
        "code": 0,
        "list": page,
        "message": f"{total} adet kayıt bulundu.",
        "numberOfPage": 1 if no_paging and total else pages,
        "size": total,
    }


def page_request(headers: Mapping[str, str], args: Mapping[str, str]) -> tuple[int, bool]:
    """``pageNo`` from the header or the query (default 1); ``No-Paging: true`` header.

    ``headers`` must be keyed in lower case.

    Client-chosen page sizes (``pageSize``, ``displayTagSize``) are ignored on purpose: whether
    Koza honours them is unknown, and ignoring them is the harder case for a client.
    """
    page_no = 1
    for raw in (headers.get("pageno"), args.get("pageNo")):
        if raw and raw.strip().isdigit():
            page_no = max(1, int(raw))
            break
    no_paging = headers.get("no-paging", "").strip().lower() == "true"
    return page_no, no_paging
