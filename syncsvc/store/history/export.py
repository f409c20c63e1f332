"""Copy one history into another: moving up from one host's SQLite file to PostgreSQL.

Rows are read in primary-key order, a batch at a time, and written as upserts keyed by that
primary key, so a copy can be interrupted and run again: the second run rewrites the same rows
and adds what is missing, never a duplicate. Both sides are migrated to this code's schema when
opened, so their columns match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from syncsvc.store.history.base import ITEM_PK, RUN_PK, History

BATCH_ROWS = 1000
# Copied in this order: a run's row lands before its items.
TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (("runs", RUN_PK), ("run_items", ITEM_PK))

# progress(table, rows copied so far, rows in the source table)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Copied:
    runs: int
    items: int


def copy_history(source: History, dest: History, progress: Progress | None = None, batch: int = BATCH_ROWS) -> Copied:
    done: dict[str, int] = {}
    for table, pk in TABLES:
        total = source.count_rows(table)
        done[table] = 0
        if progress:
            progress(table, 0, total)
        for rows in source.iter_rows(table, pk, batch):
            dest.put_rows(table, rows, pk)
            done[table] += len(rows)
            if progress:
                progress(table, done[table], max(total, done[table]))
    return Copied(runs=done["runs"], items=done["run_items"])
