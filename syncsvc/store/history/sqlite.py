"""The embedded history: one SQLite file through sqlite-utils (the default, ``SYNC_HISTORY_DB``).

Several worker processes write at once, so the file runs in WAL mode with a busy timeout. Each
session borrows a connection from a small per-process pool (a connection per thread at a time,
never one shared connection), and write sessions begin with ``BEGIN IMMEDIATE``: the write lock
is taken up front, so a transaction never has to upgrade a read lock (which fails at once in WAL
instead of waiting). The same lock makes migrations exclusive across processes.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.db import quote_identifier

from syncsvc.domain.errors import HistoryUnavailable
from syncsvc.domain.model import utcnow
from syncsvc.store.history.base import History
from syncsvc.store.history.migrations import AddColumn, CreateIndex, CreateTable, Sql, Step

BUSY_TIMEOUT_S = 30
# sqlite3.OperationalError texts that mean "the file can't be used now", not a bug in a query.
UNAVAILABLE = ("locked", "unable to open", "disk", "readonly", "read-only")
# Idle connections kept per process; more are opened under load and closed when returned.
MAX_IDLE = 8


def _enable_wal(conn: sqlite3.Connection, tries: int = 50) -> None:
    """Switch to WAL (several worker processes write at once). The switch needs a moment of
    exclusive access and SQLite does not apply the busy timeout to it: two workers opening a new
    database together get "database is locked" at once, so retry briefly."""
    for attempt in range(tries):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.05 + random.random() * 0.05)


def check_writable(path: str) -> None:
    """Raise :class:`HistoryUnavailable` (one line naming SYNC_HISTORY_DB) unless the database, its
    WAL files and its directory can be written *now*.

    SQLite maps the WAL index (``-shm``) into memory; when that file can't be written (immutable,
    read-only mount) a write through the mapping killed processes with SIGBUS (issue #11, item 9)
    instead of raising. ``access(2)`` asks the kernel without opening the files: closing any
    descriptor of a database file would drop this process's SQLite (POSIX) locks on it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    candidates = [target.parent] + [p for p in (target, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
    for candidate in candidates:
        if not os.access(candidate, os.W_OK):
            raise HistoryUnavailable(
                f"run history not writable: {candidate}: no write access (read-only, immutable or permissions); "
                "check SYNC_HISTORY_DB"
            )


def _plain(value: Any) -> Any:
    """What sqlite-utils stored for containers: their JSON text."""
    return json.dumps(value, default=str) if isinstance(value, (dict, list, tuple)) else value


class SqliteSession:
    """The session primitives on sqlite-utils' own table API."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def upsert(self, table: str, rows: Sequence[dict[str, Any]], pk: tuple[str, ...]) -> None:
        # One prepared INSERT ... ON CONFLICT run over the rows (SQLite >= 3.24), as the PostgreSQL
        # backend does. sqlite-utils' upsert_all introspects the table (sqlite_master, table_info)
        # on every call: on the engine's hot path (a batch of 20 items) that was most of the cost.
        cols = list(rows[0])
        rest = [c for c in cols if c not in pk]
        action = "DO UPDATE SET " + ", ".join(f"{quote_identifier(c)} = excluded.{quote_identifier(c)}" for c in rest)
        statement = (
            f"INSERT INTO {quote_identifier(table)} ({', '.join(map(quote_identifier, cols))}) "
            f"VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT ({', '.join(map(quote_identifier, pk))}) {action if rest else 'DO NOTHING'}"
        )
        self.db.conn.executemany(statement, ([_plain(row[c]) for c in cols] for row in rows))

    def update(self, table: str, pk: dict[str, Any], values: dict[str, Any]) -> int:
        sets = ", ".join(f"{quote_identifier(c)} = ?" for c in values)
        where = " AND ".join(f"{quote_identifier(c)} = ?" for c in pk)
        return self.execute(
            f"UPDATE {quote_identifier(table)} SET {sets} WHERE {where}", [*map(_plain, values.values()), *pk.values()]
        )

    def rows(
        self,
        table: str,
        where: str | None = None,
        args: Sequence[Any] = (),
        order_by: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        select: str = "*",
    ) -> list[dict[str, Any]]:
        return list(
            self.db.table(table).rows_where(
                where, list(args), order_by=order_by, select=select, limit=limit, offset=offset or None
            )
        )

    def count(self, table: str, where: str | None = None, args: Sequence[Any] = ()) -> int:
        return int(self.db.table(table).count_where(where, list(args)))

    def delete(self, table: str, where: str, args: Sequence[Any] = ()) -> int:
        # delete_where() does not report how many rows went; the statement is the same.
        return self.execute(f"DELETE FROM {quote_identifier(table)} WHERE {where}", args)

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return int(self.db.execute(sql, list(args)).rowcount)

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, list(args)))

    def apply(self, step: Step) -> None:
        if isinstance(step, CreateTable):
            self.db.table(step.table).create(
                dict(step.columns),
                pk=step.pk[0] if len(step.pk) == 1 else step.pk,
                not_null=set(step.not_null),
                defaults=dict(step.defaults),
                if_not_exists=True,
            )
        elif isinstance(step, AddColumn):
            table = self.db.table(step.table)
            if step.column not in table.columns_dict:
                table.add_column(step.column, step.type, not_null_default=step.not_null_default)
        elif isinstance(step, CreateIndex):
            self.db.table(step.table).create_index(step.columns, index_name=step.name, if_not_exists=True)
        elif isinstance(step, Sql):
            self.execute(step.statement, step.args)
        else:  # pragma: no cover - the Step union is closed
            raise TypeError(f"unknown migration step {step!r}")


class SqliteHistory(History):
    backend = "sqlite"

    def __init__(self, path: str, migrate: bool = True) -> None:
        if path == ":memory:":
            raise ValueError("the history needs a file: every connection to :memory: is a new database")
        self.path = path
        check_writable(path)
        self._idle: list[sqlite_utils.Database] = []
        self._lock = threading.Lock()
        self._closed = False
        if migrate:
            self.migrate()

    def describe(self) -> str:
        return f"sqlite {self.path}"

    def _open(self) -> sqlite_utils.Database:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        _enable_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        return sqlite_utils.Database(conn)

    @contextmanager
    def _connection(self) -> Iterator[sqlite_utils.Database]:
        with self._lock:
            if self._closed:
                raise RuntimeError("history store is closed")
            db = self._idle.pop() if self._idle else None
        if db is None:
            db = self._open()
        try:
            yield db
        finally:
            if db.conn.in_transaction:
                db.conn.rollback()
            with self._lock:
                keep = not self._closed and len(self._idle) < MAX_IDLE
                if keep:
                    self._idle.append(db)
            if not keep:
                db.close()

    @contextmanager
    def session(self, write: bool = False, atomic: bool = True) -> Iterator[SqliteSession]:
        check_writable(self.path)  # reads write WAL read marks too
        try:
            with self._connection() as db:
                # Reads get one snapshot (a count and its page agree); writes lock up front.
                db.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield SqliteSession(db)
                except BaseException:
                    if db.conn.in_transaction:
                        db.conn.execute("ROLLBACK")
                    raise
                db.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if not any(word in str(exc) for word in UNAVAILABLE):
                raise
            raise HistoryUnavailable(f"SQLite history {self.path}: {exc}") from None

    def _migration_session(self) -> Any:
        return self.session(write=True)  # BEGIN IMMEDIATE: one migrating process at a time

    def _read_version(self) -> int:
        with self._connection() as db:
            if not db.table("schema_version").exists():
                return 0
            return int(db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])

    def check(self, timeout_s: float) -> dict[str, Any]:
        """A real write (a heartbeat row), not just a write lock that is rolled back: the lock can
        be taken on a file whose writes then fail. Its own short-timeout connection, so a writer
        holding the lock can't stall the probe for the busy timeout."""
        check_writable(self.path)
        conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR REPLACE INTO heartbeat (id, pid, at) VALUES (1, ?, ?)", (os.getpid(), utcnow()))
            version = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            raise HistoryUnavailable(f"run history write failed: {exc}; check SYNC_HISTORY_DB ({self.path})") from None
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()
        return self._report(int(version))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()
