"""A webhook drain whose worker is SIGKILLed after taking its refs: the watchdog hands it back and
the next execution syncs every ref it had taken (issue #12, "SIGKILL during a drain loses no event").

The drain runs for real (``jobs.tasks.run_sync_job`` in an RQ ``SimpleWorker``) in a forked
child; only the prepare step is a stand-in, so the test controls the moment of the kill.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import SimpleWorker
from rq.job import Job, JobStatus
from rq.utils import utcformat

import jobs.run
from jobs.enqueue import start_drain, sync_queue
from jobs.prepare import Prepared
from jobs.recovery import recover_all
from syncsvc.keys import Keys
from syncsvc.settings import Settings, from_env
from syncsvc.store.pending import PendingEvents
from syncsvc.store.serializer import PlainPickleSerializer

REFS = ["variant:11", "variant:12", "variant:13"]
PARKED = "drain-test:parked"
SEEN = "drain-test:seen"


def parked_forever(ctx: Any, limit: int | None) -> Prepared:
    """The killed execution: it has taken its refs and is 'writing' when the kill comes."""
    ctx.conn.set(PARKED, "1")
    time.sleep(3600)
    raise AssertionError("not killed")


def records_refs(ctx: Any, limit: int | None) -> Prepared:
    ctx.conn.sadd(SEEN, *sorted(ctx.scope.refs) or ["-"])
    return Prepared(items=[], handler=lambda item: None)  # type: ignore[arg-type,return-value]


@pytest.fixture
def settings(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # The job reads its settings from the environment, as in a worker.
    env = {"REDIS_URL": redis_url, "SYNC_INSTANCE": "draintest", "SYNC_HISTORY_DB": str(tmp_path / "history.db")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return from_env(load_dotenv=False)


def work_once(redis_url: str, settings: Settings) -> None:
    conn = redis.Redis.from_url(redis_url)
    SimpleWorker([sync_queue(conn, settings)], connection=conn, serializer=PlainPickleSerializer).work(burst=True)


def kill_mid_drain(redis_url: str, settings: Settings, conn: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the queued drain in a child until it has taken its refs, then SIGKILL it."""
    monkeypatch.setattr(jobs.run, "prepare_of", lambda name: parked_forever)
    pid = os.fork()
    if pid == 0:  # the worker
        try:
            work_once(redis_url, settings)
        finally:
            os._exit(0)
    deadline = time.monotonic() + 30
    while not conn.exists(PARKED):
        assert time.monotonic() < deadline, "the drain never reached its prepare step"
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def silence(conn: redis.Redis, settings: Settings, job_id: str) -> None:
    """What the next 60 s do to a dead execution: its run lock expires, its start is long ago."""
    conn.delete(Keys(settings.key_prefix).run_lock("PRODUCT"))
    conn.hset(f"rq:job:{job_id}", "started_at", utcformat(datetime.now(UTC) - timedelta(seconds=120)))


def test_a_killed_drain_is_handed_back_and_its_taken_refs_synced(
    redis_url: str, redis_conn: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = PendingEvents(redis_conn, settings.key_prefix, "PRODUCT")
    pending.add(REFS)
    job_id = start_drain(redis_conn, settings, "PRODUCT")
    assert job_id is not None
    kill_mid_drain(redis_url, settings, redis_conn, monkeypatch)
    assert redis_conn.zcard(pending.inflight_key) == len(REFS) and redis_conn.zcard(pending.key) == 0
    assert pending.queued_drain() is None  # nothing else would ever come for these refs
    silence(redis_conn, settings, job_id)

    assert recover_all(redis_conn, settings) == [job_id]  # the watchdog's pass
    assert sync_queue(redis_conn, settings).job_ids == [job_id]
    monkeypatch.setattr(jobs.run, "prepare_of", lambda name: records_refs)
    work_once(redis_url, settings)

    assert sorted(m.decode() for m in redis_conn.smembers(SEEN)) == REFS
    assert pending.size() == 0 and pending.running_drain() is None
    job = Job.fetch(job_id, connection=redis_conn, serializer=PlainPickleSerializer)
    assert job.get_status() == JobStatus.FINISHED


def test_a_killed_drain_without_retries_left_gets_a_new_drain(
    redis_url: str, redis_conn: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = PendingEvents(redis_conn, settings.key_prefix, "PRODUCT")
    pending.add(REFS)
    job_id = start_drain(redis_conn, settings, "PRODUCT")
    assert job_id is not None
    redis_conn.hset(f"rq:job:{job_id}", "retries_left", 0)
    kill_mid_drain(redis_url, settings, redis_conn, monkeypatch)
    silence(redis_conn, settings, job_id)

    assert recover_all(redis_conn, settings) == [job_id]
    assert Job.fetch(job_id, connection=redis_conn, serializer=PlainPickleSerializer).get_status() == JobStatus.FAILED
    fresh = pending.queued_drain()
    assert fresh is not None and sync_queue(redis_conn, settings).job_ids == [fresh]
    monkeypatch.setattr(jobs.run, "prepare_of", lambda name: records_refs)
    work_once(redis_url, settings)
    assert sorted(m.decode() for m in redis_conn.smembers(SEEN)) == REFS
    assert pending.size() == 0
