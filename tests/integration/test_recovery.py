"""Dead runs are handed back by the run lock's silence (jobs/recovery.py), once, and only dead ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from rq.job import Job, JobStatus
from rq.utils import utcformat

from jobs.enqueue import AlreadyQueued, read_state_log, start_sync, sync_queue
from jobs.recovery import recover, recover_all
from syncsvc.domain.model import RunRequest
from syncsvc.settings import Settings
from syncsvc.store.locks import RunLock
from syncsvc.store.serializer import PlainPickleSerializer
from tests.service_fixtures import make_settings


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return make_settings(redis_url, tmp_path)


def started_by_a_dead_worker(conn: redis.Redis, settings: Settings, sync_type: str, ago_s: float = 120) -> str:
    """A job a worker took (STARTED, an execution in rq:wip) and then died with."""
    job_id = start_sync(conn, settings, RunRequest(sync_type), "tests.e2e.fake_jobs.fake_job")
    queue = sync_queue(conn, settings)
    conn.lrem(queue.key, 0, job_id)
    when = datetime.now(UTC) - timedelta(seconds=ago_s)
    conn.hset(f"rq:job:{job_id}", mapping={"status": "started", "started_at": utcformat(when)})
    conn.zadd(queue.started_job_registry.key, {f"{job_id}:exec1": 1})
    return job_id


def test_a_dead_run_is_requeued_at_the_front_once(redis_conn: redis.Redis, settings: Settings) -> None:
    job_id = started_by_a_dead_worker(redis_conn, settings, "PRODUCT")
    other = start_sync(redis_conn, settings, RunRequest("CUSTOMER"), "tests.e2e.fake_jobs.fake_job")
    assert recover_all(redis_conn, settings) == [job_id]
    job = Job.fetch(job_id, connection=redis_conn, serializer=PlainPickleSerializer)
    assert job.get_status() == JobStatus.QUEUED and job.retries_left == 1
    queue = sync_queue(redis_conn, settings)
    assert queue.job_ids == [job_id, other]  # resumes before anything queued later
    assert queue.started_job_registry.get_job_ids(cleanup=False) == []  # RQ will not retry it again
    assert [e["stateName"] for e in read_state_log(redis_conn, settings, job_id)] == ["QUEUED", "ABANDONED"]
    assert recover(redis_conn, settings, "PRODUCT") is None  # queued now: nothing to do


def test_a_start_of_that_type_hands_the_dead_run_back(redis_conn: redis.Redis, settings: Settings) -> None:
    job_id = started_by_a_dead_worker(redis_conn, settings, "INVOICE")
    with pytest.raises(AlreadyQueued) as refused:
        start_sync(redis_conn, settings, RunRequest("INVOICE"), "tests.e2e.fake_jobs.fake_job")
    assert refused.value.job_id == job_id
    assert sync_queue(redis_conn, settings).job_ids == [job_id]


def test_a_live_or_just_started_run_is_left_alone(redis_conn: redis.Redis, settings: Settings) -> None:
    live = started_by_a_dead_worker(redis_conn, settings, "PRODUCT")
    RunLock(redis_conn, settings.key_prefix, "PRODUCT", live).acquire()  # its heartbeat is alive
    fresh = started_by_a_dead_worker(redis_conn, settings, "CUSTOMER", ago_s=1)  # not yet locked
    assert recover_all(redis_conn, settings) == []
    for job_id in (live, fresh):
        assert redis_conn.hget(f"rq:job:{job_id}", "status") == b"started"


def test_without_retries_left_the_run_fails_and_the_type_is_free(redis_conn: redis.Redis, settings: Settings) -> None:
    job_id = started_by_a_dead_worker(redis_conn, settings, "PRODUCT")
    redis_conn.hset(f"rq:job:{job_id}", "retries_left", 0)
    assert recover(redis_conn, settings, "PRODUCT") == job_id
    job = Job.fetch(job_id, connection=redis_conn, serializer=PlainPickleSerializer)
    assert job.get_status() == JobStatus.FAILED
    assert job_id in sync_queue(redis_conn, settings).failed_job_registry.get_job_ids(cleanup=False)
    assert start_sync(redis_conn, settings, RunRequest("PRODUCT"), "tests.e2e.fake_jobs.fake_job") != job_id
