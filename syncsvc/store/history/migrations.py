"""The history schema as numbered migrations: one list for SQLite and PostgreSQL.

How to change the schema (e.g. a new column): append ONE migration to ``MIGRATIONS`` with the next
number and a short name, then use the column in the code. Never edit or renumber a migration that
has landed: databases out there have already applied it. Example::

    Migration(N, "runs: retry attempt", (        # N = the last number + 1
        AddColumn("runs", "attempt", int, not_null_default=1),
    )),

Steps are written once and rendered per backend: ``CreateTable`` / ``AddColumn`` /
``CreateIndex`` (column types are Python ``str``, ``int`` or ``float``: TEXT, INTEGER/BIGINT,
REAL/DOUBLE PRECISION), and ``Sql`` for a data fix written in the SQL both accept (``?`` for
parameters). Every step is idempotent (IF NOT EXISTS), so a database made before this mechanism
adopts version 1 as it is.

Who applies them: whichever process opens the history first (web app, worker, CLI). It takes the
backend's exclusive lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL a transaction-scoped advisory
lock), re-reads ``schema_version`` under the lock, applies what is missing and records each
version in the same transaction, so processes starting together apply each migration exactly once
and nobody sees a half-migrated schema. A database newer than this code (a later release ran) is
used as it is: migrations only add.

Timestamps are ISO-8601 UTC text (``2026-12-03T21:00:00.000Z``) on both backends: they sort as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CreateTable:
    table: str
    columns: dict[str, type]
    pk: tuple[str, ...]
    not_null: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AddColumn:
    table: str
    column: str
    type: type
    # NOT NULL with this default for existing and new rows; None = a nullable column.
    not_null_default: Any = None


@dataclass(frozen=True)
class CreateIndex:
    table: str
    columns: tuple[str, ...]
    name: str


@dataclass(frozen=True)
class Sql:
    """A statement both backends accept as written (``?`` placeholders), e.g. a backfill."""

    statement: str
    args: tuple[Any, ...] = ()


Step = CreateTable | AddColumn | CreateIndex | Sql


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    steps: tuple[Step, ...]


COUNTS = ("total", "created", "updated", "adopted", "skipped", "failed")

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs and run_items", (
        CreateTable(
            "runs",
            {
                "run_id": str, "sync_type": str, "trigger": str, "params": str, "dry_run": int,
                "status": str, "started_at": str, "finished_at": str,
                **dict.fromkeys(COUNTS, int),
                "error": str, "summary": str,
            },
            pk=("run_id",),
            not_null=("sync_type", "dry_run", "status"),
            defaults={"dry_run": 0, **dict.fromkeys(COUNTS, 0)},
        ),
        CreateTable(
            "run_items",
            {
                "run_id": str, "item_key": str, "kind": str, "outcome": str, "luca_id": int,
                "attempts": int, "error_class": str, "message": str, "finished_at": str,
            },
            pk=("run_id", "item_key"),
            not_null=("outcome",),
        ),
        CreateIndex("runs", ("sync_type", "started_at"), "runs_type_started"),
        CreateIndex("run_items", ("run_id", "outcome"), "items_outcome"),
    )),
    Migration(2, "retention: prune bookkeeping, runs by start", (
        CreateTable("history_meta", {"key": str, "value": str}, pk=("key",)),
        CreateIndex("runs", ("started_at",), "runs_started"),
    )),
    Migration(3, "incremental runs: mode, cursor before/after, gone outcome", (
        AddColumn("runs", "mode", str),
        AddColumn("runs", "cursor_before", str),
        AddColumn("runs", "cursor_after", str),
        AddColumn("runs", "gone", int, not_null_default=0),
    )),
    Migration(4, "console: retry links, item identities, dry-run diffs, resolutions", (
        AddColumn("runs", "parent_run_id", str),
        AddColumn("run_items", "katana_id", int),
        AddColumn("run_items", "label", str),
        AddColumn("run_items", "diff", str),
        CreateIndex("run_items", ("item_key",), "items_key"),
        CreateIndex("runs", ("parent_run_id",), "runs_parent"),
        CreateTable(
            "resolutions",
            {"sync_type": str, "item_key": str, "reason": str, "resolved_at": str, "run_id": str},
            pk=("sync_type", "item_key"),
            not_null=("reason", "resolved_at"),
        ),
    )),
    Migration(5, "readiness heartbeat", (
        # /readyz proves the history takes writes by writing this one row (both backends).
        CreateTable("heartbeat", {"id": int, "pid": int, "at": str}, pk=("id",)),
    )),
    Migration(6, "runs: each execution's start and outcome", (
        # JSON list of {attempt, startedAt, endedAt, outcome, reason}: a retried run keeps why an
        # earlier execution failed (issue #10 defect 8), also after Redis lost the job's state log.
        AddColumn("runs", "attempts", str),
    )),
)  # fmt: skip

LATEST = MIGRATIONS[-1].version


def pending(current: int) -> list[Migration]:
    return [m for m in MIGRATIONS if m.version > current]


def _check() -> None:
    versions = [m.version for m in MIGRATIONS]
    if versions != list(range(1, len(versions) + 1)):
        raise AssertionError(f"history migrations must be numbered 1, 2, 3, ... without gaps: {versions}")


_check()
