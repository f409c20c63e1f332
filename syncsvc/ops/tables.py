"""CLI tables that fit the console (80 columns when piped): columns are kept by priority, numbers
and ids are never cut or wrapped, free text wraps.

A column that doesn't fit is dropped whole (the title says which), rather than printing ``P… │ f…``
where the operator needed the figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.table import Table

# Columns are two spaces apart (box.SIMPLE_HEAD without edges, collapsed padding).
COLUMN_OVERHEAD = 2
MIN_TEXT_WIDTH = 12


@dataclass(frozen=True)
class Column:
    name: str
    priority: int  # 0 = kept first
    numeric: bool = False  # right-aligned, never cut
    keep_whole: bool = False  # ids: never wrapped or cut (copy-paste)


def fit_table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> Table:
    """A rich Table of the highest-priority columns whose unbreakable parts fit in ``width``."""
    natural = [max([len(c.name), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]

    def need(i: int) -> int:
        c = columns[i]
        if c.numeric or c.keep_whole:
            return natural[i]
        return min(natural[i], max(MIN_TEXT_WIDTH, len(c.name)))

    chosen: list[int] = []
    used = -COLUMN_OVERHEAD  # n columns have n - 1 gaps
    for i in sorted(range(len(columns)), key=lambda i: columns[i].priority):
        cost = need(i) + COLUMN_OVERHEAD
        if used + cost <= width:
            chosen.append(i)
            used += cost
    chosen.sort()
    dropped = [columns[i].name for i in range(len(columns)) if i not in chosen]
    suffix = f" (not shown for width {width}: {', '.join(dropped)})" if dropped else ""
    table = Table(
        title=title + suffix,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        title_justify="left",
    )
    for i in chosen:
        c = columns[i]
        if c.numeric or c.keep_whole:
            table.add_column(c.name, justify="right" if c.numeric else "left", no_wrap=True, min_width=natural[i])
        else:
            table.add_column(c.name, overflow="fold", min_width=min(natural[i], MIN_TEXT_WIDTH))
    for row in rows:
        table.add_row(*(row[i] for i in chosen))
    return table
