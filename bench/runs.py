"""Start syncs through the HTTP API and wait for their jobs, measuring what they cost."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psutil
import redis
from rq.job import Job, JobStatus

from bench.infra import Stack
from bench.probe import Sampler
from syncsvc.store.serializer import PlainPickleSerializer


@dataclass
class JobRun:
    sync_type: str
    job_id: str
    result: dict[str, Any]
    started: datetime  # RQ's started_at (naive UTC)
    ended: datetime


@dataclass
class Measured:
    wall_s: float
    jobs: list[JobRun]
    peak_rss: int
    cpu_s: float
    t0: float  # epoch seconds just before the first POST
    extra: dict[str, Any] = field(default_factory=dict)

    def total(self, key: str) -> int:
        return sum(int(j.result.get(key) or 0) for j in self.jobs)


def _epoch(dt: datetime) -> float:
    return dt.replace(tzinfo=UTC).timestamp() if dt.tzinfo is None else dt.timestamp()


def run_jobs(stack: Stack, starts: list[dict[str, Any]], timeout_s: float = 1800) -> Measured:
    """POST each start body, wait for every job; wall time runs from just before the first POST to
    the last job's ``ended_at`` as recorded by RQ (polling granularity does not enter it)."""
    conn = redis.Redis.from_url(stack.env["REDIS_URL"])
    worker_pids = [w.proc.pid for w in stack.workers]
    with stack.api() as api, Sampler(worker_pids, [*worker_pids, stack.web.proc.pid]) as sampler:
        t0 = time.time()
        ids = []
        for body in starts:
            resp = api.post(f"{stack.url}/api/sync/start", json=body, timeout=30)
            if resp.status_code != 202:
                raise RuntimeError(f"start {body}: HTTP {resp.status_code} {resp.text[:300]}")
            ids.append((body["syncType"], resp.json()["jobId"]))
        jobs = [_wait(conn, sync_type, job_id, timeout_s, stack) for sync_type, job_id in ids]
        _wait_reaped(worker_pids)
    conn.close()
    wall = max(_epoch(j.ended) for j in jobs) - t0
    return Measured(wall, jobs, sampler.peak_rss, sampler.cpu_s, t0)


def _wait(conn: redis.Redis, sync_type: str, job_id: str, timeout_s: float, stack: Stack) -> JobRun:
    deadline = time.monotonic() + timeout_s
    while True:
        job = Job.fetch(job_id, connection=conn, serializer=PlainPickleSerializer)
        status = job.get_status(refresh=False)
        if status == JobStatus.FINISHED:
            assert job.started_at is not None and job.ended_at is not None
            return JobRun(sync_type, job_id, dict(job.return_value() or {}), job.started_at, job.ended_at)
        if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED) or time.monotonic() > deadline:
            tail = "\n".join(w.tail(30) for w in stack.workers)
            raise RuntimeError(f"{sync_type} job {job_id} ended {status}:\n{job.exc_info or ''}\n{tail}")
        time.sleep(0.1)


def _wait_reaped(worker_pids: list[int], timeout_s: float = 3.0) -> None:
    """Until each worker has waited for its work-horse, the horse's CPU is in neither place we
    read it from (live processes, the parent's children totals)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if not any(psutil.Process(pid).children() for pid in worker_pids):
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.02)


def kill_and_resume(stack: Stack, start: dict[str, Any], after_items: int, timeout_s: float = 600) -> Measured:
    """Start one sync, SIGKILL the process tree of the worker running it once ``after_items`` are
    done, and time how long until the run is running again and until it finished."""
    conn = redis.Redis.from_url(stack.env["REDIS_URL"])
    with stack.api() as api:
        t0 = time.time()
        resp = api.post(f"{stack.url}/api/sync/start", json=start, timeout=30)
        if resp.status_code != 202:
            raise RuntimeError(f"start {start}: HTTP {resp.status_code} {resp.text[:300]}")
        job_id = resp.json()["jobId"]
    key = f"rq:job:{job_id}"
    deadline = time.monotonic() + timeout_s
    while True:
        job = Job.fetch(job_id, connection=conn, serializer=PlainPickleSerializer)
        done = int((job.meta.get("progress") or {}).get("processed") or 0)
        if job.get_status(refresh=False) == JobStatus.STARTED and done >= after_items:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} never reached {after_items} items")
        time.sleep(0.05)
    worker_pid = int(conn.hget(f"rq:worker:{(job.worker_name or '')}", "pid") or 0)
    victim = psutil.Process(worker_pid)
    for proc in [victim, *victim.children(recursive=True)]:
        proc.kill()
    killed_at, killed_started = time.monotonic(), conn.hget(key, "started_at")
    resumed_s = None
    while True:
        status = conn.hget(key, "status")
        if resumed_s is None and status == b"started" and conn.hget(key, "started_at") != killed_started:
            resumed_s = time.monotonic() - killed_at
        if status == b"finished":
            break
        if status == b"failed" or time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} ended {status!r} after the kill")
        time.sleep(0.05)
    finished = _wait(conn, start["syncType"], job_id, timeout_s, stack)
    conn.close()
    extra = {"resumed_s": resumed_s, "finished_s": time.monotonic() - killed_at, "before": done}
    return Measured(_epoch(finished.ended) - t0, [finished], 0, 0.0, t0, extra)
