"""Run history in SQLite (sqlite-utils): one ``runs`` row per job, one ``run_items`` row per item.

Several worker processes may write at once, so the database runs in WAL mode with a busy
timeout, and item rows are written in batches inside one transaction (a commit per row costs
~1 ms; a batch of 200 costs about the same). Writes are upserts keyed by (run_id, item_key): an
RQ retry of the same job re-records its items instead of duplicating them.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlite_utils

from syncsvc.domain.model import OUTCOMES, RUN_STATUSES, ItemRecord, utcnow


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


class History:
    """Thin store over one SQLite file. Safe to share between threads of one process."""

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=30000")
        _enable_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.Lock()
        self._ensure_schema()

    def close(self) -> None:
        self.db.close()

    def _ensure_schema(self) -> None:
        with self._lock:
            self.db.execute(
                """CREATE TABLE IF NOT EXISTS runs (
                    run_id TEXT PRIMARY KEY, sync_type TEXT NOT NULL, trigger TEXT, params TEXT,
                    dry_run INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, started_at TEXT,
                    finished_at TEXT, total INTEGER DEFAULT 0, created INTEGER DEFAULT 0,
                    updated INTEGER DEFAULT 0, adopted INTEGER DEFAULT 0, skipped INTEGER DEFAULT 0,
                    failed INTEGER DEFAULT 0, error TEXT, summary TEXT)"""
            )
            self.db.execute(
                """CREATE TABLE IF NOT EXISTS run_items (
                    run_id TEXT NOT NULL, item_key TEXT NOT NULL, kind TEXT, outcome TEXT NOT NULL,
                    luca_id INTEGER, attempts INTEGER, error_class TEXT, message TEXT,
                    finished_at TEXT, PRIMARY KEY (run_id, item_key))"""
            )
            self.db.execute("CREATE INDEX IF NOT EXISTS runs_type_started ON runs (sync_type, started_at)")
            self.db.execute("CREATE INDEX IF NOT EXISTS items_outcome ON run_items (run_id, outcome)")

    # -- writing ---------------------------------------------------------------------------

    def start_run(
        self, run_id: str, sync_type: str, params: dict[str, Any], dry_run: bool, trigger: str = "api"
    ) -> None:
        row = {
            "run_id": run_id,
            "sync_type": sync_type,
            "trigger": trigger,
            "params": json.dumps(params, sort_keys=True),
            "dry_run": int(dry_run),
            "status": "running",
            "started_at": utcnow(),
            "finished_at": None,
            "error": None,
        }
        with self._lock, self.db.conn:
            # A re-run of the same job (RQ retry) restarts its row but keeps its items.
            self.db.table("runs").upsert(row, pk="run_id")

    def record_items(self, run_id: str, items: Iterable[ItemRecord]) -> None:
        # vars(), not dataclasses.asdict: asdict deep-copies every field and was half of this cost.
        rows = [{"run_id": run_id, **vars(item)} for item in items]
        if not rows:
            return
        with self._lock, self.db.conn:
            self.db.table("run_items").upsert_all(rows, pk=("run_id", "item_key"), batch_size=500)

    def finish_run(
        self,
        run_id: str,
        status: str,
        counts: dict[str, int],
        error: str | None = None,
        summary: dict[str, Any] | None = None,
    ) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        update: dict[str, Any] = {
            "status": status,
            "finished_at": utcnow(),
            "error": error,
            "summary": json.dumps(summary or {}, sort_keys=True, default=str),
        }
        update.update({k: int(counts.get(k, 0)) for k in ("total", *OUTCOMES)})
        with self._lock, self.db.conn:
            self.db.table("runs").update(run_id, update)

    # -- reading ---------------------------------------------------------------------------

    def list_runs(
        self, sync_type: str | None = None, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        where, args = _where({"sync_type": sync_type, "status": status})
        total = self.db.execute(f"SELECT count(*) FROM runs {where}", args).fetchone()[0]
        rows = list(
            self.db.query(
                f"SELECT * FROM runs {where} ORDER BY started_at DESC, run_id DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            )
        )
        return [_decode_run(r) for r in rows], int(total)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM runs WHERE run_id = ?", [run_id]))
        return _decode_run(rows[0]) if rows else None

    def list_items(
        self, run_id: str, outcome: str | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        where, args = _where({"run_id": run_id, "outcome": outcome})
        total = self.db.execute(f"SELECT count(*) FROM run_items {where}", args).fetchone()[0]
        rows = list(
            self.db.query(f"SELECT * FROM run_items {where} ORDER BY item_key LIMIT ? OFFSET ?", [*args, limit, offset])
        )
        return rows, int(total)

    def outcome_counts(self, run_id: str) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT outcome, count(*) FROM run_items WHERE run_id = ? GROUP BY outcome", [run_id]
        ).fetchall()
        return {str(outcome): int(n) for outcome, n in rows}


def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    parts = [(k, v) for k, v in filters.items() if v is not None]
    if not parts:
        return "", []
    return "WHERE " + " AND ".join(f"{k} = ?" for k, _ in parts), [v for _, v in parts]


def _decode_run(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("params", "summary"):
        if out.get(key):
            out[key] = json.loads(out[key])
    out["dry_run"] = bool(out.get("dry_run"))
    return out
