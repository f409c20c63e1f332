"""Job-level retries: only transient systemic failures are retried by RQ; a refused login, a
refused API key or a configuration error end the job at once with one attempt spent.

The real entry point ``jobs.tasks.run_sync_job`` runs in an RQ worker against the simulators.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import SimpleWorker
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from jobs.enqueue import start_sync, sync_queue
from sandbox.testing import Sandbox
from syncsvc.domain.model import RunRequest
from syncsvc.net import free_port
from syncsvc.settings import from_env
from syncsvc.store.history import open_history
from syncsvc.store.history import sqlite as sqlite_history
from syncsvc.store.serializer import PlainPickleSerializer
from syncsvc.web import schemas
from syncsvc.web.job_view import describe_job
from tests.service_fixtures import AUTH, make_app


def _run_job(
    sync_type: str, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> tuple[Job, dict[str, Any]]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = from_env(load_dotenv=False)
    job_id = start_sync(redis_conn, settings, RunRequest(sync_type))
    SimpleWorker([sync_queue(redis_conn, settings)], connection=redis_conn, serializer=PlainPickleSerializer).work(
        burst=True
    )
    job = Job.fetch(job_id, connection=redis_conn, serializer=PlainPickleSerializer)
    view = describe_job(redis_conn, settings, job)
    schemas.JobStatus.model_validate(view)  # as documented
    return job, view


def _env(sandbox: Sandbox, redis_url: str, tmp_path: Path, **over: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "SYNC_KEY_PREFIX": "retrytest",
        "SYNC_HISTORY_DB": str(tmp_path / "history.db"),
        "KATANA_BASE_URL": f"{sandbox.katana_url}/v1",
        "LUCA_BASE_URL": f"{sandbox.luca_url}/Yetki",
        **over,
    }


def _logins(sandbox: Sandbox) -> int:
    return len(sandbox.admin("luca", "GET", "requests", action="Giris"))


@pytest.mark.parametrize(
    ("sync_type", "over", "reason"),
    [
        ("PRODUCT", {"LUCA_PASSWORD": "wrong-password"}, "AccessRefused: Luca refused the login"),
        ("PRODUCT", {"LUCA_BRANCH_ID": "999"}, "ConfigError: LUCA_BRANCH_ID 999 is not a branch"),
        ("CUSTOMER", {"KATANA_API_KEY": "not-a-key"}, "AccessRefused: Katana refused the API key (401)"),
    ],
    ids=["luca-login-refused", "luca-branch-refused", "katana-key-refused"],
)
def test_a_failure_no_retry_can_fix_ends_the_job_at_once(
    sync_type: str,
    over: dict[str, str],
    reason: str,
    sandbox: Sandbox,
    redis_url: str,
    redis_conn: redis.Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job, view = _run_job(sync_type, redis_conn, monkeypatch, _env(sandbox, redis_url, tmp_path, **over))
    assert job.get_status() == JobStatus.FAILED
    assert job.retries_left == 0 and view["retriesLeft"] == 0
    assert ScheduledJobRegistry(queue=sync_queue(redis_conn, from_env(load_dotenv=False))).get_job_ids() == []
    assert view["state"] == "FAILED"
    assert view["error"] is not None and "\n" not in view["error"] and reason in view["error"], view["error"]
    # A refused login is sent exactly once (a real Luca locks the account after a few).
    assert _logins(sandbox) == (0 if "KATANA" in str(over) else 1)


def test_an_unreachable_luca_is_retried_later_by_rq(
    sandbox: Sandbox, redis_url: str, redis_conn: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/Yetki"  # nothing listens there
    env = _env(sandbox, redis_url, tmp_path, LUCA_BASE_URL=nowhere)
    job, view = _run_job("PRODUCT", redis_conn, monkeypatch, env)
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.retries_left == 1 and view["retriesLeft"] == 1
    assert ScheduledJobRegistry(queue=sync_queue(redis_conn, from_env(load_dotenv=False))).get_job_ids() == [job.id]
    history = open_history(env["SYNC_HISTORY_DB"])
    run = history.get_run(job.id)
    history.close()
    # Never "failed" while a retry is scheduled (issue #10 defect 5), and the reason is named.
    assert run is not None and run["status"] == "retrying" and run["finished_at"] is None
    assert run["error"].startswith("Unavailable: could not read Luca's current records"), run["error"]
    assert view["error"].startswith("Unavailable: could not read Luca's current records"), view["error"]
    states = [(h["stateName"], h.get("attempt")) for h in view["history"]]
    assert states == [("QUEUED", None), ("STARTED", 1), ("FAILED_WILL_RETRY", 1), ("SCHEDULED", None)], states


def test_a_malformed_request_on_the_queue_fails_without_retry(
    redis_url: str, redis_conn: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SYNC_HISTORY_DB", str(tmp_path / "history.db"))
    from jobs.enqueue import RETRY

    queue = sync_queue(redis_conn, from_env(load_dotenv=False))
    job = queue.enqueue("jobs.tasks.run_sync_job", {"syncType": "PRODUCT", "limit": "²"}, retry=RETRY)
    SimpleWorker([queue], connection=redis_conn, serializer=PlainPickleSerializer).work(burst=True)
    job = Job.fetch(job.id, connection=redis_conn, serializer=PlainPickleSerializer)
    assert job.get_status() == JobStatus.FAILED and job.retries_left == 0
    assert job.latest_result() is not None
    assert "InvalidRequest: limit must be a positive integer" in (job.latest_result().exc_string or "")  # type: ignore[union-attr]


@pytest.mark.parametrize("when", ["at-start", "mid-run"])
def test_a_run_retried_after_a_locked_history_keeps_the_failure_in_its_history(
    when: str,
    sandbox: Sandbox,
    redis_url: str,
    redis_conn: redis.Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #10 defect 8: after a long SQLite lock the retried run's history read QUEUED ->
    STARTED -> FINISHED, the failure reason only in the worker log. Locked as the run starts, the
    retry also found the failed execution's run lock still held (AlreadyRunning) and failed too."""
    monkeypatch.setattr(sqlite_history, "BUSY_TIMEOUT_S", 1)  # the lock outlasts it: 30 s in production
    env = _env(sandbox, redis_url, tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = from_env(load_dotenv=False)
    sandbox.admin("luca", "POST", "faults", {"latency_ms": 20, "faults": {}})
    history = open_history(env["SYNC_HISTORY_DB"])
    job_id = start_sync(redis_conn, settings, RunRequest("PRODUCT"))
    taken = threading.Event()

    def lock_the_history() -> None:
        while when == "mid-run" and history.outcome_counts(job_id).get("created", 0) < 10:
            time.sleep(0.02)
        db = sqlite3.connect(env["SYNC_HISTORY_DB"], isolation_level=None)
        db.execute("BEGIN IMMEDIATE")  # another process writing for longer than the busy timeout
        taken.set()
        time.sleep(3)
        db.execute("ROLLBACK")
        db.close()

    locker = threading.Thread(target=lock_the_history)
    locker.start()
    if when == "at-start":
        taken.wait(10)
    worker = SimpleWorker([sync_queue(redis_conn, settings)], connection=redis_conn, serializer=PlainPickleSerializer)
    worker.work(burst=True)
    locker.join()
    scheduled = ScheduledJobRegistry(queue=sync_queue(redis_conn, settings))
    assert scheduled.get_job_ids() == [job_id]  # RQ's retry, 30 s later: now
    job = Job.fetch(job_id, connection=redis_conn, serializer=PlainPickleSerializer)
    scheduled.remove(job)
    sync_queue(redis_conn, settings).enqueue_job(job)
    worker.work(burst=True)

    view = describe_job(
        redis_conn, settings, Job.fetch(job_id, connection=redis_conn, serializer=PlainPickleSerializer)
    )
    states = [(h["stateName"], h.get("attempt")) for h in view["history"]]
    assert states == [("QUEUED", None), ("STARTED", 1), ("FAILED_WILL_RETRY", 1), ("STARTED", 2), ("FINISHED", 2)]
    assert "database is locked" in view["history"][2]["reason"]
    run = history.get_run(job_id)
    history.close()
    assert run is not None and run["status"] == "finished" and run["error"] is None
    first, second = run["attempts"]
    assert (first["attempt"], first["outcome"], second["attempt"], second["outcome"]) == (
        1, "FAILED_WILL_RETRY", 2, "FINISHED")  # fmt: skip
    assert first["reason"].startswith("HistoryUnavailable: SQLite history") and "database is locked" in first["reason"]
    # The API shows it with the run.
    client = make_app(settings).test_client()
    shown = client.get(f"/api/sync/history/{job_id}", headers=AUTH).json
    schemas.RunDetail.model_validate(shown)
    assert [a["outcome"] for a in shown["attempts"]] == ["FAILED_WILL_RETRY", "FINISHED"]
