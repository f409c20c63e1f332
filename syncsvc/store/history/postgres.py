"""The server history: PostgreSQL through psycopg 3 and a connection pool (``SYNC_HISTORY_URL``).

For workers on several hosts: every process writes to the same database, so the API and the
console see every run. Same tables as SQLite (TEXT columns use the "C" collation so ordering
matches SQLite's byte order), same query surface (base.py). Migrations run under a
transaction-scoped advisory lock, so processes starting together migrate once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from syncsvc.domain.errors import HistoryUnavailable
from syncsvc.domain.model import utcnow
from syncsvc.store.history.base import History
from syncsvc.store.history.migrations import AddColumn, CreateIndex, CreateTable, Sql, Step

CONNECT_TIMEOUT_S = 5
# Connections per process: the web app's threads and a run's engine threads share them.
POOL_MAX = 10
# Wait this long for a pooled connection (all busy, or the server gone) before failing the call.
POOL_TIMEOUT_S = 30.0
# Bind parameters per statement (PostgreSQL's limit is 65535).
MAX_PARAMS = 30000
# A pooled connection used this recently is lent without a test query (a round trip on the hot
# path); one idle for longer is tested first, so a restarted server's dead connections are dropped.
CHECK_IDLE_S = 30.0
TYPES = {str: 'TEXT COLLATE "C"', int: "BIGINT", float: "DOUBLE PRECISION"}
# Any constant identifies our lock; the schema in use is hashed in so test schemas don't queue.
LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('syncsvc.history.migrate:' || coalesce(current_schema(), '')))"


def redact(url: str) -> str:
    """host:port/database of a PostgreSQL URL: never the user's password."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"
    except ValueError:
        return "(unparseable URL)"


def _q(fragment: str) -> str:
    """Our fragments use ``?`` (both dialects' docs); psycopg wants ``%s``."""
    if "%" in fragment:
        raise ValueError(f"'%' in a history query fragment: {fragment!r}")
    return fragment.replace("?", "%s")


def _one_line(exc: BaseException) -> str:
    """libpq's first line without its "connection failed:" prefix (the rest are hints)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0].removeprefix("connection failed: ") if lines else type(exc).__name__


class PgSession:
    """The session primitives as SQL over one psycopg connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def _run(self, query: Any, args: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self.conn.execute(query, list(args))

    def upsert(self, table: str, rows: Sequence[dict[str, Any]], pk: tuple[str, ...]) -> None:
        """One multi-row INSERT ... ON CONFLICT per chunk: one round trip, atomic by itself."""
        cols = list(rows[0])
        rest = [c for c in cols if c not in pk]
        sets = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in rest)
        action = sql.SQL("DO UPDATE SET ") + sets if rest else sql.SQL("DO NOTHING")
        row_marks = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * len(cols)))
        per_statement = max(1, MAX_PARAMS // len(cols))
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            query = sql.SQL("INSERT INTO {t} ({cols}) VALUES {values} ON CONFLICT ({pk}) {action}").format(
                t=sql.Identifier(table),
                cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
                values=sql.SQL(", ").join([row_marks] * len(chunk)),
                pk=sql.SQL(", ").join(map(sql.Identifier, pk)),
                action=action,
            )
            self._run(query, [r[c] for r in chunk for c in cols])

    def update(self, table: str, pk: dict[str, Any], values: dict[str, Any]) -> int:
        query = sql.SQL("UPDATE {t} SET {sets} WHERE {where}").format(
            t=sql.Identifier(table),
            sets=sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values),
            where=sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in pk),
        )
        return self._run(query, [*values.values(), *pk.values()]).rowcount

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
        text = f"SELECT {select} FROM {{t}}"
        if where:
            text += f" WHERE {_q(where)}"
        if order_by:
            text += f" ORDER BY {order_by}"
        extra: list[Any] = []
        if limit is not None:
            text += " LIMIT %s"
            extra.append(limit)
        if offset:
            text += " OFFSET %s"
            extra.append(offset)
        query = sql.SQL(text).format(t=sql.Identifier(table))
        with self.conn.cursor(row_factory=dict_row) as cur:
            return list(cur.execute(query, [*args, *extra]))

    def count(self, table: str, where: str | None = None, args: Sequence[Any] = ()) -> int:
        text = "SELECT count(*) FROM {t}" + (f" WHERE {_q(where)}" if where else "")
        row = self._run(sql.SQL(text).format(t=sql.Identifier(table)), args).fetchone()
        return int(row[0]) if row else 0

    def delete(self, table: str, where: str, args: Sequence[Any] = ()) -> int:
        query = sql.SQL("DELETE FROM {t} WHERE " + _q(where)).format(t=sql.Identifier(table))
        return self._run(query, args).rowcount

    def execute(self, statement: str, args: Sequence[Any] = ()) -> int:
        return self._run(_q(statement), args).rowcount

    def query(self, statement: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            return list(cur.execute(_q(statement), list(args)))

    def apply(self, step: Step) -> None:
        if isinstance(step, CreateTable):
            cols = []
            for name, kind in step.columns.items():
                col = sql.SQL("{} " + TYPES[kind]).format(sql.Identifier(name))
                if name in step.not_null:
                    col += sql.SQL(" NOT NULL")
                if name in step.defaults:
                    col += sql.SQL(" DEFAULT {}").format(sql.Literal(step.defaults[name]))
                cols.append(col)
            cols.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, step.pk))))
            self._run(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                    sql.Identifier(step.table), sql.SQL(", ").join(cols)
                )
            )
        elif isinstance(step, AddColumn):
            query = sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} " + TYPES[step.type]).format(
                sql.Identifier(step.table), sql.Identifier(step.column)
            )
            if step.not_null_default is not None:
                query += sql.SQL(" NOT NULL DEFAULT {}").format(sql.Literal(step.not_null_default))
            self._run(query)
        elif isinstance(step, CreateIndex):
            self._run(
                sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                    sql.Identifier(step.name),
                    sql.Identifier(step.table),
                    sql.SQL(", ").join(map(sql.Identifier, step.columns)),
                )
            )
        elif isinstance(step, Sql):
            self.execute(step.statement, step.args)
        else:  # pragma: no cover - the Step union is closed
            raise TypeError(f"unknown migration step {step!r}")


class PostgresHistory(History):
    backend = "postgresql"

    def __init__(self, url: str, migrate: bool = True, pool_max: int = POOL_MAX) -> None:
        self.url = url
        self._last_used: dict[int, float] = {}  # id(connection) -> monotonic time it was returned
        # One direct connection first: a bad URL or a dead server fails here with the server's
        # own one-line reason, instead of as a pool timeout 30 s later.
        try:
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
        except (psycopg.Error, ValueError) as exc:
            raise HistoryUnavailable(f"PostgreSQL history at {redact(url)} unreachable: {_one_line(exc)}") from None
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_max,
            open=False,
            timeout=POOL_TIMEOUT_S,
            # Autocommit: sessions open a transaction only when they need one (see session()).
            kwargs={"connect_timeout": CONNECT_TIMEOUT_S, "autocommit": True},
            check=self._check,
            name="syncsvc-history",
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S * 2)
        except PoolTimeout:
            self._pool.close()
            raise HistoryUnavailable(f"PostgreSQL history at {redact(url)}: no connection within 10 s") from None
        if migrate:
            try:
                self.migrate()
            except BaseException:
                self._pool.close()
                raise

    def describe(self) -> str:
        return f"postgresql {redact(self.url)}"

    def _check(self, conn: psycopg.Connection[Any]) -> None:
        if time.monotonic() - self._last_used.get(id(conn), 0.0) > CHECK_IDLE_S:
            ConnectionPool.check_connection(conn)

    @contextmanager
    def _connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        """A pooled (autocommit) connection. A lost server becomes HistoryUnavailable (one line,
        no password)."""
        try:
            with self._pool.connection(timeout=timeout) as conn:
                try:
                    yield conn
                finally:
                    self._last_used[id(conn)] = time.monotonic()
        except PoolTimeout:
            raise HistoryUnavailable(f"PostgreSQL history at {redact(self.url)}: no free connection in time") from None
        except psycopg.OperationalError as exc:
            raise HistoryUnavailable(f"PostgreSQL history at {redact(self.url)}: {_one_line(exc)}") from None

    @contextmanager
    def session(self, write: bool = False, atomic: bool = True) -> Iterator[PgSession]:
        # Reads run statement by statement: under READ COMMITTED a transaction would not give
        # them one snapshot anyway. Writes of several statements are one transaction.
        with self._connection() as conn:
            if write and atomic:
                with conn.transaction():
                    yield PgSession(conn)
            else:
                yield PgSession(conn)

    @contextmanager
    def _migration_session(self) -> Iterator[PgSession]:
        with self._connection() as conn, conn.transaction():
            conn.execute(LOCK_SQL)  # held until this transaction ends
            yield PgSession(conn)

    def _read_version(self) -> int:
        with self._connection() as conn:
            row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
            if not row or not row[0]:
                return 0
            got = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            return int(got[0]) if got else 0

    def check(self, timeout_s: float) -> dict[str, Any]:
        """A real write (the heartbeat row): a standby or a full disk fails here, not in a run."""
        try:
            with self._connection(timeout_s) as conn, conn.transaction():
                conn.execute(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}")
                conn.execute(
                    "INSERT INTO heartbeat (id, pid, at) VALUES (1, %s, %s) "
                    "ON CONFLICT (id) DO UPDATE SET pid = EXCLUDED.pid, at = EXCLUDED.at",
                    (os.getpid(), utcnow()),
                )
                row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        except psycopg.Error as exc:  # read-only standby, statement timeout, disk full...
            raise HistoryUnavailable(f"PostgreSQL history at {redact(self.url)}: {_one_line(exc)}") from None
        return self._report(int(row[0]) if row else 0)

    def close(self) -> None:
        self._pool.close()
