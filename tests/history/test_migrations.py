"""Migrations as code: applied once on open, by whichever process comes first, on both backends."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from syncsvc.store.history import ItemRecord, open_history
from syncsvc.store.history import migrations as m
from tests.history.together import together


def versions(target: str) -> list[tuple[int, str]]:
    h = open_history(target, migrate=False)
    try:
        with h.session() as s:
            return [(r["version"], r["name"]) for r in s.rows("schema_version", order_by="version")]
    finally:
        h.close()


def test_a_new_database_gets_every_migration_once(target: str) -> None:
    h = open_history(target)
    assert h.schema_version() == m.LATEST
    assert h.check(2.0)["schemaVersion"] == m.LATEST
    with h.session() as s:  # readiness proved the history takes writes by writing this row
        assert [r["pid"] for r in s.rows("heartbeat")] == [os.getpid()]
    h.close()
    open_history(target).close()  # opening again changes nothing
    assert versions(target) == [(x.version, x.name) for x in m.MIGRATIONS]


def test_a_new_migration_is_applied_on_next_open(target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    h = open_history(target)
    h.start_run("old", "PRODUCT", {}, False)
    h.record_items("old", [ItemRecord("A", "created")])
    h.close()
    added = m.Migration(m.LATEST + 1, "items: katana id", (
        m.AddColumn("run_items", "katana_id", int),
        m.AddColumn("runs", "attempt", int, not_null_default=1),
        m.CreateIndex("run_items", ("katana_id",), "items_katana_id"),
        m.Sql("UPDATE run_items SET katana_id = ? WHERE item_key = ?", (7, "A")),
    ))  # fmt: skip
    import syncsvc.store.history.base as base

    monkeypatch.setattr(m, "MIGRATIONS", (*m.MIGRATIONS, added))
    monkeypatch.setattr(base, "LATEST", added.version)
    monkeypatch.setattr(base, "pending", m.pending)
    h = open_history(target)
    try:
        assert h.schema_version() == added.version
        run = h.get_run("old")
        assert run is not None and run["attempt"] == 1  # existing rows get the default
        items, _ = h.list_items("old")
        assert items[0]["katana_id"] == 7
    finally:
        h.close()
    assert versions(target)[-1] == (added.version, added.name)


def test_processes_starting_together_migrate_once(target: str) -> None:
    def start(n: int) -> None:
        h = open_history(target)
        h.start_run(f"r{n}", "PRODUCT", {}, False)
        h.close()

    assert together(start, 6) == []
    assert versions(target) == [(x.version, x.name) for x in m.MIGRATIONS]
    h = open_history(target)
    assert h.list_runs()[1] == 6
    h.close()


def test_a_history_file_from_before_migrations_is_adopted(tmp_path: Path) -> None:
    """SQLite files written by the release before migrations-as-code: same tables, no version."""
    path = str(tmp_path / "old.db")
    db = sqlite3.connect(path)
    db.executescript(
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY, sync_type TEXT NOT NULL, trigger TEXT, params TEXT,
            dry_run INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, started_at TEXT,
            finished_at TEXT, total INTEGER DEFAULT 0, created INTEGER DEFAULT 0,
            updated INTEGER DEFAULT 0, adopted INTEGER DEFAULT 0, skipped INTEGER DEFAULT 0,
            failed INTEGER DEFAULT 0, error TEXT, summary TEXT);
        CREATE TABLE run_items (
            run_id TEXT NOT NULL, item_key TEXT NOT NULL, kind TEXT, outcome TEXT NOT NULL,
            luca_id INTEGER, attempts INTEGER, error_class TEXT, message TEXT,
            finished_at TEXT, PRIMARY KEY (run_id, item_key));
        CREATE INDEX runs_type_started ON runs (sync_type, started_at);
        INSERT INTO runs (run_id, sync_type, status, started_at) VALUES ('r0', 'PRODUCT', 'finished', '2026-01-01');
        INSERT INTO run_items (run_id, item_key, outcome) VALUES ('r0', 'A', 'created');"""
    )
    db.close()
    h = open_history(path)
    try:
        assert h.schema_version() == m.LATEST
        assert h.list_items("r0")[1] == 1 and h.get_run("r0") is not None
    finally:
        h.close()


def test_migrations_are_numbered_without_gaps() -> None:
    assert [x.version for x in m.MIGRATIONS] == list(range(1, m.LATEST + 1))
