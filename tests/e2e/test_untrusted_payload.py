"""A job payload planted in Redis by someone else is never executed: workers decode with JSON."""

from __future__ import annotations

import os
import pickle
import time
import zlib
from pathlib import Path

import redis
from rq import Queue
from rq.job import JobStatus

from jobs.enqueue import QUEUE_NAME, sync_queue
from tests.e2e.conftest import Stack


class Exploit:
    """Unpickling this runs ``os.system`` (the classic pickle gadget)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_payload_is_not_executed_by_the_worker(stack: Stack, redis_conn: redis.Redis, tmp_path: Path) -> None:
    assert sync_queue(redis_conn).serializer.__name__ == "JSONSerializer"
    marker = tmp_path / "pwned"
    # What an attacker with Redis access could enqueue with RQ's default (pickle) serializer.
    planted = Queue(QUEUE_NAME, connection=redis_conn).enqueue("tests.e2e.fake_jobs.fake_sync", kwargs={"limit": 1})
    redis_conn.hset(planted.key, "data", zlib.compress(pickle.dumps(Exploit(marker))))

    deadline = time.monotonic() + 20
    status = None
    while time.monotonic() < deadline:
        status = redis_conn.hget(planted.key, "status")
        if status in (JobStatus.FAILED.value.encode(), JobStatus.FINISHED.value.encode()):
            break
        time.sleep(0.1)
    assert status == JobStatus.FAILED.value.encode(), (status, stack.worker.tail())
    assert not marker.exists()
    assert stack.worker.alive()  # the worker refused the job and goes on
    assert "exception raised while executing (<DeserializationError>)" in stack.worker.tail(100)
