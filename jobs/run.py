"""One sync run from start to finish: lock, history row, prepare, engine, summary.

Independent of RQ so tests and benchmarks can run it in-process; :mod:`jobs.tasks` wraps it for
``rq worker sync``.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import redis

from jobs import orphans
from jobs.continuity import close_scope, open_scope
from jobs.control import RunControl
from jobs.engine import Engine, Recorder
from jobs.enqueue import start_drain
from jobs.orphans import Covering
from jobs.prepare import Prepared, RunContext
from jobs.scope import iso_or_none
from jobs.upserts import Upserts
from syncsvc import metrics
from syncsvc.clients.alerts import send_alert
from syncsvc.clients.budget import KatanaBudget
from syncsvc.clients.katana import KatanaClient
from syncsvc.clients.luca import LucaClient
from syncsvc.defaults import MAX_FAILURES_IN_RESULT
from syncsvc.domain.errors import AlreadyRunning, ConfigError, HistoryUnavailable, JobVanished, RunAborted
from syncsvc.domain.model import OUTCOMES, ItemRecord, RunRequest, utcnow
from syncsvc.domain.synctypes import sync_type as registered
from syncsvc.keys import as_str
from syncsvc.logsetup import bound
from syncsvc.settings import Settings
from syncsvc.store import pause
from syncsvc.store.cache import IdCache
from syncsvc.store.history import History, open_history
from syncsvc.store.locks import DRAIN_LOCK_PREFIX, RunLock
from syncsvc.store.pending import PendingEvents

log = logging.getLogger(__name__)


Prepare = Callable[[RunContext, int | None], Prepared]


@cache
def prepare_of(name: str) -> Prepare:
    """The prepare function the registry names for a sync type."""
    module, _, function = registered(name).prepare.rpartition(".")
    prepare: Prepare = getattr(importlib.import_module(module), function)
    return prepare


def build_context(
    settings: Settings, conn: redis.Redis, control: RunControl, dry_run: bool, run_id: str = ""
) -> RunContext:
    budget = KatanaBudget(
        conn, settings.key_prefix, settings.katana_api_key, settings.katana_rate_requests, settings.katana_rate_window_s
    )
    katana = KatanaClient(
        settings.katana_base_url, settings.katana_api_key, budget, settings.katana_timeout_s, heartbeat=control.tick
    )
    luca = LucaClient(settings, conn)

    def cache(kind: str) -> IdCache:
        return IdCache(conn, settings.key_prefix, kind, settings.cache_ttl_s)

    upserts = Upserts(
        luca, cache("stockcard"), cache("customer"), cache("invoice"), dry_run=dry_run, run_id=run_id,
        settle_s=settings.luca_write_settle_s, guard=control.alive,
    )  # fmt: skip
    return RunContext(settings, conn, katana, luca, upserts, control, dry_run)


def run_sync(
    request: RunRequest,
    *,
    settings: Settings,
    conn: redis.Redis,
    run_id: str,
    publish: Callable[[dict[str, Any]], None] | None = None,
    will_retry: Callable[[BaseException], bool] | None = None,
    vanished: Callable[[], bool] | None = None,
    executions: Callable[[], list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Run one sync; returns the summary (also the RQ job result). Raises on systemic failure;
    ``will_retry(exc)`` says whether another execution follows (the run is then ``retrying``);
    ``vanished()`` whether the run's RQ job is gone from Redis (then the run is an orphan,
    jobs/orphans.py, and raises :class:`JobVanished`); ``executions()`` the job's executions so
    far, this one last (:func:`jobs.enqueue.executions`), kept in the history row's ``attempts``."""
    with bound(run_id=run_id, sync_type=request.sync_type), metrics.collecting(conn, settings.key_prefix):
        return _run_sync(request, settings, conn, run_id, publish, will_retry, vanished, executions)


def _run_sync(
    request: RunRequest,
    settings: Settings,
    conn: redis.Redis,
    run_id: str,
    publish: Callable[[dict[str, Any]], None] | None,
    will_retry: Callable[[BaseException], bool] | None = None,
    vanished: Callable[[], bool] | None = None,
    executions: Callable[[], list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    sync_type, limit, dry_run, trigger = request.sync_type, request.limit, request.dry_run, request.trigger
    if trigger in pause.AUTOMATIC_TRIGGERS:
        held = pause.paused(conn, settings.key_prefix, sync_type)
        if held is not None:
            log.warning("%s is paused (%s): %s run skipped", sync_type, held["reason"], trigger)
            return {"runId": run_id, "syncType": sync_type, "notRun": "paused", "pausedReason": held["reason"],
                    "total": 0, **dict.fromkeys(OUTCOMES, 0)}  # fmt: skip
    prepare = prepare_of(sync_type)
    started = time.monotonic()
    drain = request.mode == "drain"
    lock = RunLock(conn, settings.key_prefix, sync_type, f"{DRAIN_LOCK_PREFIX}{run_id}" if drain else run_id)
    pending = PendingEvents(conn, settings.key_prefix, sync_type)
    if drain:
        # Paced to Katana's budget: wait while still holding the queued-drain slot, so events
        # arriving meanwhile join this drain instead of queueing another.
        while (wait := pending.pace(settings.drain_interval_s)) > 0:
            time.sleep(wait)
        # From now on new events queue the next drain: this one may already have taken its set.
        pending.release_drain(run_id)
    try:
        _acquire(lock, drain)
    except AlreadyRunning as exc:
        if not drain:
            raise
        # The run holding the lock starts a drain itself when it ends if events are pending.
        log.info("%s drain %s deferred: %s", sync_type, run_id, exc)
        return {"runId": run_id, "syncType": sync_type, "mode": "drain", "deferred": True, "reason": str(exc)}

    def unlock() -> None:
        lock.release()
        if drain:
            pending.clear_running(run_id)

    if drain:
        # Before it takes anything: a drain has no start claim, so this is what lets the
        # watchdog find it (and hand it back, in-flight refs and all) if its worker is killed.
        pending.mark_running(run_id)
    try:
        history = open_history(settings)
    except BaseException as exc:
        unlock()
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        log.error("%s run %s cannot start: %s", sync_type, run_id, reason, extra={"reason": type(exc).__name__})
        if publish is not None:  # the job itself says why, also while RQ waits to retry it
            publish({"phase": "failed", "error": reason})
        if isinstance(exc, RunAborted | ConfigError):
            _count_systemic_failure(conn, settings, sync_type, reason)
        raise
    control = RunControl(lock, publish)
    ctx = build_context(settings, conn, control, dry_run, run_id)
    try:
        scope, unknown = open_scope(
            conn, settings, sync_type, mode=request.mode, keys=request.keys, dry_run=dry_run, limit=limit,
            history=history,
        )  # fmt: skip
        _heal_orphans(conn, settings, history, run_id, request, scope.mode)
        params = {
            "limit": limit,
            "dryRun": dry_run,
            "mode": scope.mode,
            **({"keys": list(request.keys)} if request.keys else {}),
        }
        attempts = _executions(executions)
        history.start_run(
            run_id, sync_type, params, dry_run, trigger, scope.mode, iso_or_none(scope.cursor),
            parent_run_id=request.parent_run_id, attempts=attempts,
        )  # fmt: skip
    except BaseException:
        # Released here, not left to expire: a retry of this execution (a locked history, say)
        # would otherwise find its own lock and fail AlreadyRunning.
        unlock()
        history.close()
        raise
    ctx.scope = scope
    succeeded = False
    log.info(
        "%s run %s started (trigger %s, mode %s, limit %s, dry run %s)", sync_type, run_id, trigger, scope.mode,
        limit, dry_run, extra={"trigger": trigger, "mode": scope.mode, "limit": limit, "dry_run": dry_run},
    )  # fmt: skip
    control.start()  # the lock is extended on a timer from here to the end of the run
    try:
        prepared = prepare(ctx, limit)
        prepared.items += unknown
        control.set_phase("syncing")

        def record(rows: list[ItemRecord]) -> None:
            history.record_batch(run_id, rows, control.counters.snapshot())  # the history list is live

        recorder = Recorder(record, settings.batch_size)
        result = Engine(settings, control, recorder).run(prepared.items, prepared.handler)
        cursor_after = close_scope(conn, settings, sync_type, run_id, scope, prepared, result)
        counts = {k: result.counts[k] for k in ("total", *OUTCOMES)}
        failures = [
            {"key": r.item_key, "errorClass": r.error_class, "message": r.message}
            for r in sorted(result.failed.values(), key=lambda r: r.item_key)
        ]
        summary: dict[str, Any] = {
            "runId": run_id,
            "syncType": sync_type,
            "dryRun": dry_run,
            **counts,
            "durationSeconds": round(time.monotonic() - started, 3),
            "failures": failures[:MAX_FAILURES_IN_RESULT],
            "lucaRequests": ctx.luca.requests_sent,
            "katanaRequests": ctx.katana.requests_sent,
            "katanaRateLimited": ctx.katana.rate_limited,
            **scope.describe(),
            "cursorAfter": cursor_after,
            **prepared.extra,
        }
        history.finish_run(
            run_id, "finished", counts, summary=summary, cursor_after=cursor_after,
            attempts=_ended(attempts, "FINISHED"),
        )  # fmt: skip
        succeeded = True
        control.set_phase("done")
        metrics.record_run(conn, settings.key_prefix, sync_type, "finished", counts)
        pause.record_success(conn, settings.key_prefix, sync_type)
        log.info(
            "%s run %s finished in %.1f s: %s", sync_type, run_id, summary["durationSeconds"],
            ", ".join(f"{k} {counts[k]}" for k in counts),
            extra={"status": "finished", "seconds": summary["durationSeconds"], "counts": counts},
        )  # fmt: skip
        return summary
    except BaseException as exc:
        if _job_vanished(vanished):
            # Redis lost the job, its lock and its claim: nothing else remembers this run.
            exc = _close_vanished(conn, settings, history, run_id, control.phase, exc)
        try:
            counts = history.recorded_counts(run_id)
            reason = f"{type(exc).__name__}: {exc}"[:2000]
            if isinstance(exc, JobVanished):
                pass  # closed (or left open for the next check) by _close_vanished
            elif will_retry is not None and will_retry(exc):
                # Never "failed" while a retry waits.
                history.interrupt_run(run_id, "retrying", counts, reason, _ended(attempts, "FAILED_WILL_RETRY", reason))
            else:
                history.finish_run(run_id, "failed", counts, error=reason, attempts=_ended(attempts, "FAILED", reason))
        except HistoryUnavailable as unrecorded:  # the job's error still says why the run failed
            counts = {}
            log.error("%s run %s: failure not recorded: %s", sync_type, run_id, unrecorded)
        control.set_phase("failed", error=f"{type(exc).__name__}: {exc}"[:500])
        metrics.record_run(conn, settings.key_prefix, sync_type, "failed", counts)
        if isinstance(exc, RunAborted | ConfigError) and not isinstance(exc, JobVanished):  # Redis's loss, not ours
            _count_systemic_failure(conn, settings, sync_type, f"{type(exc).__name__}: {exc}".splitlines()[0])
        log.error(
            "%s run %s failed after %.1f s: %s", sync_type, run_id, time.monotonic() - started,
            f"{type(exc).__name__}: {exc}"[:500],
            extra={"status": "failed", "seconds": round(time.monotonic() - started, 3), "reason": type(exc).__name__,
                   "counts": counts},
        )  # fmt: skip
        if isinstance(exc, JobVanished):
            raise exc from exc.__cause__
        raise
    finally:
        control.stop()
        unlock()
        ctx.katana.close()
        ctx.luca.close()
        _retention(history, settings)
        history.close()
        if succeeded:
            # Not after a failure: RQ retries the job itself, and a drain queued at once would only
            # fail the same way (a loop of failing drains while Luca is down).
            _drain_leftovers(conn, settings, sync_type, dry_run)


DRAIN_WAIT_S = 60.0
"""How long a full or incremental run waits for a drain holding its type's lock."""


def _acquire(lock: RunLock, drain: bool) -> None:
    try:
        lock.acquire()
    except AlreadyRunning:
        holder = lock.conn.get(lock.key)
        if drain or holder is None or not as_str(holder).startswith(DRAIN_LOCK_PREFIX):
            raise
        lock.acquire(wait_s=DRAIN_WAIT_S)


def _drain_leftovers(conn: redis.Redis, settings: Settings, sync_type: str, dry_run: bool) -> None:
    """Webhook events that arrived while this run held the lock (a drain that found it busy
    stepped aside): queue a drain for them now. Never fails the run."""
    if dry_run:
        return
    try:
        if PendingEvents(conn, settings.key_prefix, sync_type).size():
            start_drain(conn, settings, sync_type)
    except Exception:  # noqa: BLE001 - the next event or scheduled run picks them up
        log.warning("could not queue a drain for pending %s webhook events", sync_type, exc_info=True)


def _executions(executions: Callable[[], list[dict[str, Any]]] | None) -> list[dict[str, Any]] | None:
    if executions is None:
        return None
    try:
        return executions()
    except redis.RedisError:  # the row keeps what it had; the job's error still says why
        return None


def _ended(
    attempts: list[dict[str, Any]] | None, outcome: str, reason: str | None = None
) -> list[dict[str, Any]] | None:
    """``attempts`` with this (the last) execution's outcome: the history has it even when the
    job's state log (Redis) is lost afterwards."""
    if not attempts:
        return None
    last = {**attempts[-1], "outcome": outcome, "endedAt": utcnow()}
    if reason:
        last["reason"] = reason.splitlines()[0][:500]
    return [*attempts[:-1], last]


def _heal_orphans(
    conn: redis.Redis, settings: Settings, history: History, run_id: str, request: RunRequest, mode: str
) -> None:
    """Runs of this type that Redis forgot (jobs/orphans.py): closed now, their work done by this
    run when it reads everything they would have, else by a continuation. Never fails the run."""
    covering = Covering.of(run_id, request, mode)
    try:
        orphans.heal(conn, settings, history, request.sync_type, covering)
    except Exception:  # noqa: BLE001 - the watchdog and the next start look again
        log.warning("could not check for orphaned %s runs", request.sync_type, exc_info=True)


def _job_vanished(vanished: Callable[[], bool] | None) -> bool:
    if vanished is None:
        return False
    try:
        return vanished()
    except redis.RedisError:  # Redis away, not empty: RQ's retry (or recovery) brings the job back
        return False


def _close_vanished(
    conn: redis.Redis, settings: Settings, history: History, run_id: str, phase: str, exc: BaseException
) -> BaseException:
    """Close this orphaned run's row and place its unfinished work; the exception to raise."""
    try:
        reason = orphans.close_vanished(conn, settings, history, run_id, phase)
    except Exception as unplaced:  # noqa: BLE001 - the row stays open: the watchdog heals it
        reason = None
        log.warning("could not close orphaned run %s: %s", run_id, unplaced)
    vanished = JobVanished(reason or f"{orphans.VANISHED} while {phase} ({type(exc).__name__}: {exc})")
    vanished.__cause__ = exc
    return vanished


def _retention(history: History, settings: Settings) -> None:
    """Prune old runs at the end of a run (throttled across every process and host, see
    History.prune_if_due). A failure here is logged: it must not turn a finished run into a failed one."""
    try:
        history.prune_if_due(settings.history_keep_days)
    except Exception:
        log.warning("history retention failed; will try again after a later run", exc_info=True)


def _count_systemic_failure(conn: redis.Redis, settings: Settings, sync_type: str, reason: str) -> None:
    """A run failed as a whole (refused credentials, a remote down, bad settings): after
    SYNC_PAUSE_AFTER in a row its scheduled runs pause and the alert webhook hears about it."""
    try:
        record = pause.record_systemic_failure(
            conn, settings.key_prefix, sync_type, reason, settings.pause_after_failures
        )
    except redis.RedisError as exc:
        log.warning("could not count the failure for auto-pause: %s", exc)
        return
    if record is None:
        return
    log.error(
        "%s paused after %d consecutive failures: %s (resume: POST /api/sync/resume or syncsvc resume %s)",
        sync_type, record["failures"], reason, sync_type,
        extra={"event": "paused", "failures": record["failures"], "reason": reason},
    )  # fmt: skip
    send_alert(settings.alert_webhook_url, "paused", sync_type, reason=reason, consecutiveFailures=record["failures"])
