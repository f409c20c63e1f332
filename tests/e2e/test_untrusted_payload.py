"""Jobs planted in Redis by someone else: the documented worker runs none of them.

RQ's default serializer is pickle, and a job names its function by a dotted path; the worker
started with ``-c syncsvc.ops.rq_settings`` loads job data as plain values only and runs only
``jobs.tasks`` functions (plus the stand-in this stack's ``SYNCSVC_JOB_FUNCTION`` names).
"""

from __future__ import annotations

import os
import pickle
import time
import zlib
from pathlib import Path

import redis
from rq import Callback, Queue
from rq.job import JobStatus

from tests.e2e.conftest import Stack
from tests.service_fixtures import FAKE_JOB


class Exploit:
    """Unpickling this runs ``os.system`` (the classic pickle gadget)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def wait_ended(conn: redis.Redis, key: str, stack: Stack) -> bytes | None:
    deadline = time.monotonic() + 20
    status = None
    while time.monotonic() < deadline:
        status = conn.hget(key, "status")
        if status in (JobStatus.FAILED.value.encode(), JobStatus.FINISHED.value.encode()):
            break
        time.sleep(0.1)
    return status


def test_a_pickle_payload_is_not_executed_by_the_worker(stack: Stack, redis_conn: redis.Redis, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    queue = Queue(stack.env["SYNC_KEY_PREFIX"], connection=redis_conn)
    planted = queue.create_job(FAKE_JOB, args=({"syncType": "PRODUCT"},), status=JobStatus.QUEUED)
    planted.save()
    # Swap in the payload before the job is pushed, so no worker can take the harmless version.
    redis_conn.hset(planted.key, "data", zlib.compress(pickle.dumps(Exploit(marker))))
    queue.push_job_id(planted.id)

    assert wait_ended(redis_conn, planted.key, stack) == JobStatus.FAILED.value.encode(), stack.worker.tail()
    assert not marker.exists()
    assert stack.worker.alive()  # the worker refused the job and goes on
    assert "exception raised while executing (<DeserializationError>)" in stack.worker.tail(100)


def test_a_job_naming_any_other_function_is_refused(stack: Stack, redis_conn: redis.Redis, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    queue = Queue(stack.env["SYNC_KEY_PREFIX"], connection=redis_conn)  # RQ's defaults, as `rq enqueue` would
    planted = queue.enqueue("os.system", f"touch {marker}")
    assert wait_ended(redis_conn, planted.key, stack) == JobStatus.FAILED.value.encode(), stack.worker.tail()
    assert not marker.exists()
    assert "ForbiddenJob: refused job" in stack.worker.tail(100)

    # An allowed function with a foreign callback: the callback never runs either.
    sneaky = queue.enqueue("tests.e2e.fake_jobs.fake_abort", on_failure=Callback("os.system"), kwargs={"limit": 1})
    assert wait_ended(redis_conn, sneaky.key, stack) == JobStatus.FAILED.value.encode()
    assert "callbacks 'os.system'" in stack.worker.tail(100)
    assert stack.worker.alive()
