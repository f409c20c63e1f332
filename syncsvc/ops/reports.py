"""Terminal tables for reports the API returns (reconciliation)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

LISTS = (
    ("Missing in Luca", "missingInLuca", ("key", "label")),
    ("Drifted", "drifted", ("key", "fields")),
    ("In Luca, not in Katana", "notInKatana", ("key", "lucaId")),
    ("Stale cache entries", "staleCache", ("key", "cachedId")),
)
SHOWN = 20
"""Rows per list in the terminal; the console page and the JSON have up to 500."""


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v[0]} -> {v[1]}" for k, v in value.items())
    return "" if value is None else str(value)


def reconcile_tables(report: dict[str, Any]) -> list[Table]:
    counts = report["counts"]
    names = ("katana", "luca", "missingInLuca", "notInKatana", "drifted", "staleCache")
    summary = Table(title=f"{report['syncType']} reconciliation")
    for name in names:
        summary.add_column(name, justify="right")
    summary.add_row(*(str(counts[n]) for n in names))
    tables = [summary]
    for title, name, cols in LISTS:
        if report[name]:
            table = Table(title=f"{title} ({counts[name]}, first {min(SHOWN, len(report[name]))})")
            for col in cols:
                table.add_column(col, overflow="fold")
            for row in report[name][:SHOWN]:
                table.add_row(*(_cell(row.get(col)) for col in cols))
            tables.append(table)
    return tables
