"""Run history: SQLite (embedded default) or PostgreSQL (several hosts), one query surface.

``open_history(settings)`` (or a path / ``postgresql://`` URL) returns a :class:`History`; it
migrates the schema on open (see ``migrations.py``). Everything else (web, CLI, jobs, console)
calls only the methods of :class:`History`.
"""

from __future__ import annotations

from syncsvc.domain.model import OUTCOMES, RUN_STATUSES, ItemRecord, utcnow
from syncsvc.settings import Settings
from syncsvc.store.history.base import History
from syncsvc.store.history.migrations import LATEST as SCHEMA_VERSION

__all__ = [
    # Re-exported from syncsvc.domain.model for the store's callers.
    "OUTCOMES",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "History",
    "ItemRecord",
    "history_target",
    "is_postgres_url",
    "open_history",
    "utcnow",
]


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def history_target(settings: Settings) -> str:
    """Where the history lives: ``SYNC_HISTORY_URL`` when set, else the ``SYNC_HISTORY_DB`` file."""
    return settings.history_url or settings.history_db


def open_history(target: Settings | str, migrate: bool = True) -> History:
    """Open (and migrate) the history at a path or a ``postgresql://`` URL, or the settings' one."""
    where = history_target(target) if isinstance(target, Settings) else target
    if is_postgres_url(where):
        # Imported here: SQLite users never load psycopg.
        from syncsvc.store.history.postgres import PostgresHistory

        return PostgresHistory(where, migrate=migrate)
    from syncsvc.store.history.sqlite import SqliteHistory

    return SqliteHistory(where, migrate=migrate)
