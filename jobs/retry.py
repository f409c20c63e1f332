"""Failed items of a run: retry them (a new targeted run of just those keys, linked to its
parent) or resolve one (it stops being retried)."""

from __future__ import annotations

from typing import Any

import redis

from jobs.enqueue import JOB_FUNCTION, start_sync
from syncsvc.domain.model import RunRequest
from syncsvc.settings import Settings
from syncsvc.store import failures
from syncsvc.store.failures import failed_keys
from syncsvc.store.history import History
from syncsvc.store.retryset import RetrySet


class NoSuchRun(LookupError):
    """The run id is not in the history."""


class NothingToRetry(ValueError):
    """The run has no failed items left (all retried successfully, resolved, or none failed)."""


def retry_failed(
    conn: redis.Redis,
    settings: Settings,
    history: History,
    run_id: str,
    job_function: str = JOB_FUNCTION,
) -> tuple[str, RunRequest]:
    """Queue the retry; returns (job id, request). Raises NoSuchRun, NothingToRetry, AlreadyQueued."""
    run = history.get_run(run_id)
    if run is None:
        raise NoSuchRun(f"no run {run_id[:128]!r} in the history")
    keys = failed_keys(history, run_id)
    if not keys:
        raise NothingToRetry(f"run {run_id} has no failed items left to retry")
    request = RunRequest(sync_type=run["sync_type"], trigger="retry", keys=tuple(keys), parent_run_id=run_id)
    return start_sync(conn, settings, request, job_function), request


def resolve_item(
    conn: redis.Redis, settings: Settings, history: History, run: dict[str, Any], key: str, reason: str
) -> dict[str, Any]:
    """An operator lets a failed item go: recorded in the history (the console shows it as
    resolved, a retry skips it) and taken out of the type's retry set (later runs stop fetching
    it). A later run that fails it again makes it a current failure again."""
    row = failures.resolve(history, run["sync_type"], key, reason, run["run_id"])
    RetrySet(conn, settings.key_prefix, run["sync_type"]).resolve(key, reason)
    return row
