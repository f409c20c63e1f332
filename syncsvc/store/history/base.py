"""The query surface every history backend offers, written once over a small session interface.

A backend (``sqlite``, ``postgres``) only knows how to open a session (one connection, one
transaction) and how to run a handful of primitives in it: upsert, update, rows, count, delete,
execute, and the migration steps. Everything the web app, CLI, jobs and console call lives here,
so both backends behave the same by construction. Where fragments are written with ``?``
placeholders in SQL both databases accept.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from syncsvc.domain.model import OUTCOMES, RUN_STATUSES, ItemRecord, iso_utc, utcnow
from syncsvc.store.history.migrations import LATEST, CreateTable, Migration, Step, pending

log = logging.getLogger(__name__)

RUN_PK = ("run_id",)
ITEM_PK = ("run_id", "item_key")
# Retention runs at most this often across all processes (claimed in history_meta).
PRUNE_EVERY_S = 3600
# Runs deleted per transaction when pruning: keeps SQLite's write lock short for the workers.
PRUNE_CHUNK_RUNS = 20


class Session(Protocol):
    """One connection inside one transaction (committed when the ``with`` block ends cleanly)."""

    def upsert(self, table: str, rows: Sequence[dict[str, Any]], pk: tuple[str, ...]) -> None: ...
    def update(self, table: str, pk: dict[str, Any], values: dict[str, Any]) -> int: ...
    def rows(
        self,
        table: str,
        where: str | None = None,
        args: Sequence[Any] = (),
        order_by: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        select: str = "*",
    ) -> list[dict[str, Any]]: ...
    def count(self, table: str, where: str | None = None, args: Sequence[Any] = ()) -> int: ...
    def delete(self, table: str, where: str, args: Sequence[Any] = ()) -> int: ...
    def execute(self, sql: str, args: Sequence[Any] = ()) -> int: ...
    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]: ...
    def apply(self, step: Step) -> None: ...


class History(ABC):
    """Run history: one ``runs`` row per job, one ``run_items`` row per item. Thread-safe: every
    call takes its own connection (from a pool) for the length of one transaction."""

    backend: str = ""

    # -- backend -----------------------------------------------------------------------------

    @abstractmethod
    def session(self, write: bool = False, atomic: bool = True) -> AbstractContextManager[Session]:
        """A connection for a few statements. ``write`` sessions are one transaction (SQLite takes
        its write lock up front); ``atomic=False`` says the block is one statement, atomic on its
        own, so PostgreSQL may skip BEGIN/COMMIT (two round trips of the hot path)."""

    @abstractmethod
    def _migration_session(self) -> AbstractContextManager[Session]:
        """A write session that holds the backend's migration lock until it ends."""

    @abstractmethod
    def _read_version(self) -> int:
        """The applied schema version, 0 when none (no schema_version table yet)."""

    @abstractmethod
    def describe(self) -> str:
        """Where this history lives, without secrets (for messages and /readyz)."""

    @abstractmethod
    def close(self) -> None: ...

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> int:
        """Bring the schema to the latest version (see migrations.py); returns the version."""
        found = self._read_version()
        if found >= LATEST:  # the usual case: no lock taken
            return found
        with self._migration_session() as s:
            s.apply(_VERSION_TABLE)
            rows = s.rows("schema_version", select="max(version) AS v")
            current = int(rows[0]["v"] or 0) if rows else 0
            todo: list[Migration] = pending(current)
            for migration in todo:
                for step in migration.steps:
                    s.apply(step)
                s.upsert(
                    "schema_version",
                    [{"version": migration.version, "name": migration.name, "applied_at": utcnow()}],
                    ("version",),
                )
        if todo:
            log.info("history schema migrated to v%d (%s)", todo[-1].version, self.describe())
        return max(current, LATEST)

    def schema_version(self) -> int:
        return self._read_version()

    @abstractmethod
    def check(self, timeout_s: float) -> dict[str, Any]:
        """Readiness within about ``timeout_s``: the database accepts writes; returns backend,
        where, applied ``schemaVersion`` and the ``latest`` this code knows. Raises if not."""

    def _report(self, version: int) -> dict[str, Any]:
        return {"backend": self.backend, "where": self.describe(), "schemaVersion": version, "latest": LATEST}

    # -- writing -----------------------------------------------------------------------------

    def start_run(
        self,
        run_id: str,
        sync_type: str,
        params: dict[str, Any],
        dry_run: bool,
        trigger: str = "api",
        mode: str | None = None,
        cursor_before: str | None = None,
        parent_run_id: str | None = None,
        attempts: list[dict[str, Any]] | None = None,
    ) -> None:
        """The run's row, status ``running``. ``attempts``: its executions so far (the job's state
        log), merged into those the row already has (see :func:`merge_attempts`)."""
        row = {
            "parent_run_id": parent_run_id,
            "run_id": run_id,
            "sync_type": sync_type,
            "trigger": trigger,
            "mode": mode,
            "cursor_before": cursor_before,
            "params": json.dumps(params, sort_keys=True),
            "dry_run": int(dry_run),
            "status": "running",
            "started_at": utcnow(),
            "finished_at": None,
            "error": None,
        }
        with self.session(write=True, atomic=False) as s:
            # Another execution of the same run (a retry, a resumed run) continues its row: it keeps
            # its items and the run's first startedAt (the job's state log has each execution's).
            before = s.rows("runs", "run_id = ?", [run_id], select="started_at, attempts")
            if before and before[0]["started_at"]:
                row["started_at"] = before[0]["started_at"]
            if attempts is not None:
                known = json.loads(before[0]["attempts"]) if before and before[0]["attempts"] else []
                row["attempts"] = json.dumps(merge_attempts(known, attempts))
            s.upsert("runs", [row], RUN_PK)

    def interrupt_run(
        self, run_id: str, status: str, counts: dict[str, int], error: str, attempts: list[dict[str, Any]] | None = None
    ) -> None:
        """An execution ended without ending the run (``retrying``), or a dead one's run is over
        (``failed``): status, reason and the counts recorded so far."""
        if status not in ("retrying", "failed"):
            raise ValueError(f"an interrupted run is retrying or failed, not {status!r}")
        update: dict[str, Any] = {"status": status, "error": error[:2000]}
        update["finished_at"] = utcnow() if status == "failed" else None
        update.update(_count_values(counts))
        if attempts is not None:
            update["attempts"] = json.dumps(attempts)
        with self.session(write=True) as s:
            s.update("runs", {"run_id": run_id}, update)

    def close_open_run(self, run_id: str, counts: dict[str, int], error: str) -> bool:
        """Fail a run that is still ``running`` or ``retrying`` (an orphan, jobs/orphans.py) with
        the reason and its recorded counts; False when it had ended already (whoever closed it
        first keeps their account)."""
        values: dict[str, Any] = {"status": "failed", "finished_at": utcnow(), "error": error[:2000]}
        values.update(_count_values(counts))
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.session(write=True) as s:
            changed = s.execute(
                f"UPDATE runs SET {sets} WHERE run_id = ? AND status IN ('running', 'retrying')",
                [*values.values(), run_id],
            )
        return bool(changed)

    def record_items(self, run_id: str, items: Iterable[ItemRecord]) -> None:
        """One transaction per call (the engine hands over a batch): not a commit per row."""
        rows = _item_rows(run_id, items)
        if not rows:
            return
        with self.session(write=True, atomic=False) as s:
            s.upsert("run_items", rows, ITEM_PK)

    def record_batch(self, run_id: str, items: Iterable[ItemRecord], counts: dict[str, int]) -> None:
        """A batch of item outcomes and the run's live counts in one transaction: the engine's
        hot path (an unchanged re-sync records 500 batches), so one session, not two."""
        rows = _item_rows(run_id, items)
        with self.session(write=True) as s:
            if rows:
                s.upsert("run_items", rows, ITEM_PK)
            s.update("runs", {"run_id": run_id}, _count_values(counts))

    def finish_run(
        self,
        run_id: str,
        status: str,
        counts: dict[str, int],
        error: str | None = None,
        summary: dict[str, Any] | None = None,
        cursor_after: str | None = None,
        attempts: list[dict[str, Any]] | None = None,
    ) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        update: dict[str, Any] = {
            "status": status,
            "finished_at": utcnow(),
            "error": error,
            "summary": json.dumps(summary or {}, sort_keys=True, default=str),
        }
        if cursor_after is not None:
            update["cursor_after"] = cursor_after
        if attempts is not None:
            update["attempts"] = json.dumps(attempts)
        update.update(_count_values(counts))
        with self.session(write=True, atomic=False) as s:
            if not s.update("runs", {"run_id": run_id}, update):
                raise LookupError(f"no run {run_id!r} in the history")

    def record_skipped(self, run_id: str, sync_type: str, trigger: str, mode: str | None, reason: str) -> None:
        """A run that was due (a schedule tick) but did not start: one row, status ``skipped``."""
        now = utcnow()
        row = {
            "run_id": run_id, "sync_type": sync_type, "trigger": trigger, "mode": mode, "params": "{}",
            "dry_run": 0, "status": "skipped", "started_at": now, "finished_at": now, "error": reason[:2000],
        }  # fmt: skip
        with self.session(write=True) as s:
            s.upsert("runs", [row], RUN_PK)

    # -- reading -----------------------------------------------------------------------------

    def last_run(self, sync_type: str, status: str | None = None) -> dict[str, Any] | None:
        where, args = _where({"sync_type": sync_type, "status": status})
        with self.session() as s:
            rows = s.rows("runs", where, args, order_by="started_at DESC, run_id DESC", limit=1)
        return _decode_run(rows[0]) if rows else None

    def last_cursor(self, sync_type: str) -> str | None:
        """The newest cursor a finished run left (to re-seed Redis after it lost the key)."""
        where = "sync_type = ? AND status = 'finished' AND dry_run = 0 AND cursor_after IS NOT NULL"
        with self.session() as s:
            rows = s.rows("runs", where, [sync_type], order_by="cursor_after DESC", limit=1, select="cursor_after")
        return str(rows[0]["cursor_after"]) if rows else None

    def list_runs(
        self,
        sync_type: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
        trigger: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first. ``since``/``until`` bound ``started_at`` (ISO text, UTC; until exclusive)."""
        where, args = _where({"sync_type": sync_type, "status": status, "trigger": trigger})
        for clause, value in (("started_at >= ?", since), ("started_at < ?", until)):
            if value is not None:
                where = f"{where} AND {clause}" if where else clause
                args.append(value)
        with self.session() as s:
            total = s.count("runs", where, args)
            rows = s.rows("runs", where, args, order_by="started_at DESC, run_id DESC", limit=limit, offset=offset)
        return [_decode_run(r) for r in rows], total

    def open_runs(self, sync_type: str, limit: int = 100) -> list[dict[str, Any]]:
        """The type's runs still ``running`` or ``retrying``, oldest first (jobs/orphans.py checks
        them at every run start and watchdog pass: no count, one small read)."""
        where = "sync_type = ? AND status IN ('running', 'retrying')"
        with self.session() as s:
            rows = s.rows("runs", where, [sync_type], order_by="started_at, run_id", limit=limit)
        return [_decode_run(r) for r in rows]

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self.session() as s:
            rows = s.rows("runs", "run_id = ?", [run_id])
        return _decode_run(rows[0]) if rows else None

    def list_items(
        self,
        run_id: str,
        outcome: str | None = None,
        limit: int = 100,
        offset: int = 0,
        search: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Items of a run by key; ``search`` matches key or label (SKU, name, order number),
        case-insensitively."""
        where, args = _where({"run_id": run_id, "outcome": outcome})
        if search:
            # The wildcards travel in the parameter: no '%' may appear in a fragment (psycopg).
            pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            match = "LIKE ? ESCAPE '\\'"
            where = f"{where} AND (lower(item_key) {match} OR lower(coalesce(label, '')) {match})"
            args += [pattern, pattern]
        with self.session() as s:
            total = s.count("run_items", where, args)
            rows = s.rows("run_items", where, args, order_by="item_key", limit=limit, offset=offset)
        return rows, total

    def outcome_counts(self, run_id: str) -> dict[str, int]:
        with self.session() as s:
            # GROUP BY rides on the where fragment: rows() has no grouping of its own.
            rows = s.rows("run_items", "run_id = ? GROUP BY outcome", [run_id], select="outcome, count(*) AS n")
        return {str(r["outcome"]): int(r["n"]) for r in rows}

    def recorded_counts(self, run_id: str) -> dict[str, int]:
        """``outcome_counts`` plus their ``total``: what a run that ended without its own
        counts (failed, interrupted, orphaned) is closed with."""
        counts = self.outcome_counts(run_id)
        counts["total"] = sum(counts.values())
        return counts

    # -- retention ---------------------------------------------------------------------------

    def prune(self, keep_days: int, now: datetime | None = None) -> int:
        """Delete runs that ended more than ``keep_days`` ago, with their items; returns how many
        runs went. Running runs are never pruned (a live worker may still write to them)."""
        cutoff = iso_utc((now or datetime.now(UTC)) - timedelta(days=keep_days))
        old = "status NOT IN ('running', 'retrying') AND coalesce(finished_at, started_at) < ?"
        deleted = 0
        while True:
            with self.session(write=True) as s:
                ids = [r["run_id"] for r in s.rows("runs", old, [cutoff], select="run_id", limit=PRUNE_CHUNK_RUNS)]
                if not ids:
                    break
                marks = ", ".join("?" * len(ids))
                s.delete("run_items", f"run_id IN ({marks})", ids)
                deleted += s.delete("runs", f"run_id IN ({marks})", ids)
        if deleted:
            log.info("history retention: pruned %d runs older than %d days", deleted, keep_days)
        return deleted

    def prune_if_due(self, keep_days: int | None, every_s: float = PRUNE_EVERY_S) -> int | None:
        """Prune unless some process (any host) did within ``every_s``; None = not due / disabled."""
        if not keep_days:
            return None
        now = datetime.now(UTC)
        with self.session(write=True, atomic=False) as s:
            claimed = s.execute(
                "INSERT INTO history_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                "SET value = excluded.value WHERE history_meta.value < ?",
                ["last_prune", iso_utc(now), iso_utc(now - timedelta(seconds=every_s))],
            )
        return self.prune(keep_days, now) if claimed else None

    # -- bulk copy (export) ------------------------------------------------------------------

    def count_rows(self, table: str) -> int:
        with self.session() as s:
            return s.count(table)

    def iter_rows(self, table: str, pk: tuple[str, ...], batch: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """Every row of a table in primary-key order, ``batch`` at a time (keyset paging)."""
        after: list[Any] | None = None
        order = ", ".join(pk)
        while True:
            where, args = _after(pk, after) if after is not None else (None, [])
            with self.session() as s:
                rows = s.rows(table, where, args, order_by=order, limit=batch)
            if not rows:
                return
            yield rows
            after = [rows[-1][c] for c in pk]

    def put_rows(self, table: str, rows: Sequence[dict[str, Any]], pk: tuple[str, ...]) -> None:
        if rows:
            with self.session(write=True) as s:
                s.upsert(table, rows, pk)


# Not a migration itself: the runner needs it to know which migrations are applied.
_VERSION_TABLE = CreateTable("schema_version", {"version": int, "name": str, "applied_at": str}, pk=("version",))


def _after(pk: tuple[str, ...], values: list[Any]) -> tuple[str, list[Any]]:
    """Rows after ``values`` in ``pk`` order: (a > ?) OR (a = ? AND b > ?) ..."""
    ors: list[str] = []
    args: list[Any] = []
    for i, col in enumerate(pk):
        eqs = [f"{c} = ?" for c in pk[:i]]
        ors.append("(" + " AND ".join([*eqs, f"{col} > ?"]) + ")")
        args += [*values[:i], values[i]]
    return " OR ".join(ors), args


def _where(filters: dict[str, Any]) -> tuple[str | None, list[Any]]:
    parts = [(k, v) for k, v in filters.items() if v is not None]
    if not parts:
        return None, []
    return " AND ".join(f"{k} = ?" for k, _ in parts), [v for _, v in parts]


def merge_attempts(known: list[dict[str, Any]], latest: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per attempt number: the job's state log (``latest``) wins, except over an entry
    that says how the attempt ended when the log's does not (a log cut short by a Redis that
    lost its data)."""
    merged = {int(a.get("attempt") or 0): a for a in known}
    for entry in latest:
        number = int(entry.get("attempt") or 0)
        if "outcome" in entry or "outcome" not in merged.get(number, {}):
            merged[number] = entry
    return [merged[n] for n in sorted(merged)]


def _decode_run(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("params", "summary", "attempts"):
        if out.get(key):
            out[key] = json.loads(out[key])
    out["dry_run"] = bool(out.get("dry_run"))
    return out


def _item_rows(run_id: str, items: Iterable[ItemRecord]) -> list[dict[str, Any]]:
    # vars(), not dataclasses.asdict: asdict deep-copies every field and was half of this cost.
    return [{"run_id": run_id, **vars(item)} for item in items]


def _count_values(counts: dict[str, int]) -> dict[str, int]:
    return {k: int(counts.get(k, 0)) for k in ("total", *OUTCOMES)}
