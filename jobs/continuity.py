"""The state that carries one run into the next: cursor, retry set and webhook pending set.

:func:`open_scope` decides what a run reads (see ``jobs/scope.py``); :func:`close_scope` runs
after every item of the run has been written to Luca and recorded in the history, and only then
puts failures in the retry set, forgets the webhook events the run covered, and moves the
cursor. A run that raises never reaches it, so a crash can only make the next run read more.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import redis

from jobs.engine import Item, RunResult
from jobs.prepare import Prepared
from jobs.scope import MODES, Scope, iso_or_none, split_ref
from syncsvc.domain.errors import MappingError
from syncsvc.settings import Settings
from syncsvc.store.cursors import Cursors, parse
from syncsvc.store.history import History
from syncsvc.store.pending import PendingEvents
from syncsvc.store.retryset import Failure, RetrySet

log = logging.getLogger(__name__)


def seeded_cursor(cursors: Cursors, sync_type: str, history: History | None = None) -> datetime | None:
    """The type's cursor, re-seeded from the history when Redis lost it."""
    cursor = cursors.get(sync_type)
    if cursor is None and history is not None:
        cursors.seed(sync_type, parse(history.last_cursor(sync_type)))
        cursor = cursors.get(sync_type)  # read back: another run may have seeded it first
    return cursor


def resolve_mode(requested: str | None, has_cursor: bool) -> str:
    """Incremental when a cursor exists, else full; asking for incremental without one is full."""
    if requested is None or requested == "incremental":
        return "incremental" if has_cursor else "full"
    if requested not in MODES and requested != "drain":
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {requested!r}")
    return requested


def open_scope(
    conn: redis.Redis,
    settings: Settings,
    sync_type: str,
    *,
    mode: str | None,
    keys: Sequence[str] | None,
    dry_run: bool,
    limit: int | None,
    history: History | None,
) -> tuple[Scope, list[Item]]:
    """What this run reads, plus failed items for keys that name no Katana record."""
    cursors = Cursors(conn, settings.key_prefix)
    cursor = seeded_cursor(cursors, sync_type, history)
    keeps = not dry_run and limit is None
    retry = RetrySet(conn, settings.key_prefix, sync_type)
    unknown: list[Item] = []
    if keys:
        scope = Scope("keys", cursor=cursor, keeps_state=keeps)
        entries = retry.entries()
        for key in keys:
            ref = key if split_ref(key) else (entries.get(key) or {}).get("ref")
            if ref:
                scope.refs.add(str(ref))
            else:
                error = MappingError(f"{key!r} is neither a Katana record (variant:ID, order:ID...) nor a failed item")
                unknown.append(Item(key=key, kind="", error=error))
        return scope, unknown
    scope = Scope(resolve_mode(mode, cursor is not None), cursor=cursor, keeps_state=keeps)
    if scope.mode == "incremental" and cursor is not None:
        scope.since = cursor - timedelta(seconds=settings.incremental_overlap_s)
    if keeps:
        # Drains leave the retry set to the scheduled runs: re-failing every known failure on
        # every webhook burst would only repeat the same Luca errors.
        if scope.mode != "drain":
            scope.refs |= retry.refs()
        # A drain takes the webhook events; full and incremental runs absorb them too.
        scope.refs |= set(PendingEvents(conn, settings.key_prefix, sync_type).take())
    return scope, unknown


def close_scope(
    conn: redis.Redis,
    settings: Settings,
    sync_type: str,
    run_id: str,
    scope: Scope,
    prepared: Prepared,
    result: RunResult,
) -> str | None:
    """After the run's items are written and recorded: retry set, pending set, then the cursor.
    Returns the cursor after the run (None when this run does not move it)."""
    if not scope.keeps_state:
        return None
    failures = [
        Failure(key, prepared.refs[key], run_id, record.error_class, record.message)
        for key, record in result.failed.items()
        if key in prepared.refs
    ]
    failed_refs = {f.ref for f in failures}
    # Done with: every record behind an item that did not fail, and every record read by id that
    # produced no failure (e.g. a product whose variants were all gone).
    finished = {ref for key, ref in prepared.refs.items() if key not in result.failed}
    finished |= scope.refs - failed_refs
    RetrySet(conn, settings.key_prefix, sync_type).update(failures, finished)
    if scope.mode != "keys":
        PendingEvents(conn, settings.key_prefix, sync_type).done()
    if scope.mode not in ("full", "incremental"):
        return iso_or_none(scope.cursor)
    candidate = scope.watermark.safe_cursor()
    if candidate is None:
        return iso_or_none(scope.cursor)
    return iso_or_none(Cursors(conn, settings.key_prefix).advance(sync_type, candidate))
