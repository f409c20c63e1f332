"""Runs orphaned by a Redis that lost its data: closed with the reason, their work resumed.

When Redis is flushed or restarts without its data, a run loses its RQ job, its run lock and the
claim on its type at once. Nothing in Redis remembers it, so neither RQ nor the dead-run check
(:mod:`jobs.recovery`, which starts from the claim) can hand it back; only the history row says
it ever ran. Left alone that row stays ``running`` forever (the worker died too) or is closed as
a plain ``failed`` by the aborting run, and the records it had not reached wait until somebody
starts that type again (issue #10 defect 8).

An **orphan** is a history row still ``running`` or ``retrying`` whose RQ job hash is gone (or
only a fragment of it: RQ's heartbeat re-creates ``last_heartbeat`` alone) and whose type's run
lock is not held by it. A live execution holds that lock at all times (extended every second),
so the only live run that can look like an orphan is one that is about to stop because its lock
vanished; it then closes its row the same way.

:func:`heal` closes each orphan of a type (status ``failed``, the reason, counts from its recorded
items) once its unfinished work is sure to be done by another run: the run that is healing (a
full or incremental run that saw the orphan when it started), the run already holding the type
(when it covers), or a continuation run it queues itself (trigger ``recovery``, parent run = the
orphan; full when the orphan was full, else incremental from the cursor, which a run that did not
finish never moves). An orphan whose work cannot be placed yet (the type is held by a targeted or
dry run) stays open for the next check. Callers: every run when it starts (its own type), the
worker watchdog (every type, every ``WATCH_EVERY_S``), and a run that notices its own job vanished.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis
from rq.job import Job

from jobs.enqueue import AlreadyQueued, start_sync
from syncsvc.domain.model import RunRequest
from syncsvc.domain.synctypes import SYNC_TYPES
from syncsvc.keys import Keys
from syncsvc.settings import Settings
from syncsvc.store.history import History, open_history
from syncsvc.store.locks import holder_run_id
from syncsvc.store.serializer import PlainPickleSerializer

log = logging.getLogger(__name__)

VANISHED = "Redis lost this run's job and run lock (flushed, or restarted without its data)"
"""What every orphan's reason (the history's ``error``, after ``JobVanished: ``) starts with."""


def job_vanished(conn: redis.Redis, job_id: str) -> bool:
    """RQ no longer knows the job: its hash is gone, or holds no job data (a heartbeat fragment)."""
    return not conn.hexists(Job.key_for(job_id), "data")


def find_orphans(
    conn: redis.Redis, settings: Settings, history: History, sync_type: str, exclude: str | None = None
) -> list[dict[str, Any]]:
    """``sync_type``'s open history rows whose run nothing in Redis remembers, oldest first."""
    holder = holder_run_id(conn.get(Keys(settings.key_prefix).run_lock(sync_type)))
    open_rows = [r for r in history.open_runs(sync_type) if ours(settings, r["run_id"])]
    return [r for r in open_rows if r["run_id"] not in (exclude, holder) and job_vanished(conn, r["run_id"])]


def ours(settings: Settings, run_id: str) -> bool:
    """Could this deployment's Redis hold the run's job? Its job ids are ``<SYNC_INSTANCE>-<hex>``;
    a bare id predates instance-named ids (or is an in-process run's). Another deployment's run
    in a history shared by mistake is never closed, nor its work started here."""
    prefix, dash, _ = run_id.rpartition("-")
    return not dash or prefix == settings.instance


@dataclass(frozen=True)
class Covering:
    """A run that will do an orphan's unfinished work: its id, its mode (``full``,
    ``incremental``, ``drain``, ``keys``; None = decided when it runs) and whether it reads only
    part of its type (targeted, limited or dry runs)."""

    run_id: str
    mode: str | None
    partial: bool = False

    @classmethod
    def of(cls, run_id: str, request: RunRequest, mode: str | None = None) -> Covering:
        partial = bool(request.keys) or request.limit is not None or request.dry_run
        return cls(run_id, mode or request.mode, partial)

    def covers(self, orphan: dict[str, Any]) -> bool:
        """A full run covers any orphan; an incremental one covers all but a full run (which was
        asked for to read what the cursor would skip). Targeted, limited and dry runs cover none."""
        if self.partial:
            return False
        return self.mode == "full" or (self.mode in (None, "incremental") and orphan.get("mode") != "full")


def continuation(orphan: dict[str, Any]) -> RunRequest | None:
    """The run that does the rest of ``orphan``'s work, or None when there is nothing to resume
    (a dry or limited run keeps no state: nobody relies on it having finished)."""
    params = orphan.get("params") or {}
    if orphan.get("dry_run") or params.get("limit") is not None:
        return None
    keys = tuple(str(k) for k in params.get("keys") or ())
    if keys:
        return RunRequest(orphan["sync_type"], trigger="recovery", keys=keys, parent_run_id=orphan["run_id"])
    # A drain's webhook refs were in Redis too: an incremental run reads every record they named.
    mode = "full" if orphan.get("mode") == "full" else None
    return RunRequest(orphan["sync_type"], trigger="recovery", mode=mode, parent_run_id=orphan["run_id"])


def _holder(conn: redis.Redis, job_id: str) -> Covering | None:
    try:
        job = Job.fetch(job_id, connection=conn, serializer=PlainPickleSerializer)
        return Covering.of(job_id, RunRequest.from_job(job.args[0]))
    except Exception:  # noqa: BLE001 - a holder we cannot read covers nothing
        return None


def place(conn: redis.Redis, settings: Settings, orphan: dict[str, Any], covering: Covering | None) -> str | None:
    """Make sure another run does ``orphan``'s unfinished work; return what the reason should say
    about it, or None when that is not possible yet (try again at the next check)."""
    if covering is not None and covering.covers(orphan):
        return f"its unfinished work is done by run {covering.run_id}"
    request = continuation(orphan)
    if request is None:
        return "a dry or limited run: nothing to resume"
    try:
        job_id = start_sync(conn, settings, request)
    except AlreadyQueued as exc:
        holder = _holder(conn, exc.job_id)
        if holder is not None and holder.covers(orphan):
            return f"its unfinished work is done by run {exc.job_id}"
        return None
    return f"resumed by run {job_id}"


def close(history: History, orphan: dict[str, Any], reason: str) -> bool:
    """Close the orphan's row with ``reason`` and the counts of the items it recorded."""
    return history.close_open_run(orphan["run_id"], history.recorded_counts(orphan["run_id"]), reason)


def heal(
    conn: redis.Redis,
    settings: Settings,
    history: History,
    sync_type: str,
    covering: Covering | None = None,
) -> list[str]:
    """Close ``sync_type``'s orphans whose work is placed (see the module docstring); returns
    their run ids. ``covering`` is the run calling this at its start, if any."""
    healed = []
    for orphan in find_orphans(conn, settings, history, sync_type, covering.run_id if covering else None):
        placed = place(conn, settings, orphan, covering)
        if placed is None:
            continue
        if close(history, orphan, f"JobVanished: {VANISHED}; {placed}"):
            healed.append(orphan["run_id"])
            log.warning(
                "%s run %s was orphaned (its job vanished from Redis); closed, %s",
                sync_type, orphan["run_id"], placed,
                extra={"run_id": orphan["run_id"], "sync_type": sync_type, "event": "orphan_closed"},
            )  # fmt: skip
    return healed


def heal_all(conn: redis.Redis, settings: Settings) -> list[str]:
    """:func:`heal` every sync type (the worker watchdog's check); returns the runs closed."""
    history = open_history(settings, migrate=False)
    try:
        return [run_id for name in SYNC_TYPES for run_id in heal(conn, settings, history, name)]
    finally:
        history.close()


def close_vanished(conn: redis.Redis, settings: Settings, history: History, run_id: str, phase: str) -> str | None:
    """A run noticed its own job vanished (its lock went with Redis's data): close its row and
    place its work like any orphan's. Returns the reason written, or None when the row is closed
    already (a watchdog or a new run saw the orphan first) or its work cannot be placed yet (the
    row stays open: the next check or start of its type heals it)."""
    run = history.get_run(run_id)
    if run is None or run["status"] not in ("running", "retrying"):
        return None
    placed = place(conn, settings, run, None)
    if placed is None:
        return None
    reason = f"{VANISHED} while {phase}; {placed}"
    return reason if close(history, run, f"JobVanished: {reason}") else None
