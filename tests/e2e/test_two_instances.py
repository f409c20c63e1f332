"""Two deployments on one Redis (issue #10 defect 6): each has its own simulators, its own real
``rq worker -c syncsvc.ops.rq_settings`` and its own name (``SYNC_INSTANCE``); neither sees, runs
nor deletes the other's jobs and keys.

Before the queue followed the instance, both queued on ``sync``: the first deployment's worker ran
the second one's job against the first one's simulators (defect 6: a PRODUCT total of 1,325 for
a 179-variant data set, exit 0)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import SimpleWorker
from rq.job import Job, JobStatus

from jobs.enqueue import start_sync
from sandbox.testing import Sandbox, start_sandbox
from syncsvc.domain.model import RunRequest
from syncsvc.ops.procs import ROOT, Children, worker_argv
from syncsvc.settings import from_env
from syncsvc.store.serializer import PlainPickleSerializer
from tests.integration.engine_helpers import katana_list, luca_records
from tests.redisdb import MARKER

CUSTOMERS = {"alpha": 25, "beta": 9}
"""Customers each simulator generates: different data sets, so a run against the wrong
simulators shows in its total."""


def instance_env(name: str, redis_url: str, sb: Sandbox, tmp_path: Path) -> dict[str, str]:
    env = {
        "REDIS_URL": redis_url,
        "KATANA_BASE_URL": f"{sb.katana_url}/v1",
        "LUCA_BASE_URL": f"{sb.luca_url}/Yetki",
        "SYNC_HISTORY_DB": str(tmp_path / f"{name}.db"),
        "SYNC_LOG_FORMAT": "text",
        "PYTHONPATH": str(ROOT),
    }
    # beta uses the older name of the setting; it must name the queue too. (With it, the code
    # before the fix already kept the two deployments' own keys apart, but not RQ's queue.)
    env["SYNC_INSTANCE" if name == "alpha" else "SYNC_KEY_PREFIX"] = name
    return env


@pytest.fixture
def sandboxes() -> Iterator[dict[str, Sandbox]]:
    started = {name: start_sandbox("--customers", str(n)) for name, n in CUSTOMERS.items()}
    yield started
    for sb in started.values():
        sb.stop()


def wait_status(conn: redis.Redis, job_id: str, wanted: set[JobStatus], timeout: float = 90) -> JobStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = Job.fetch(job_id, connection=conn, serializer=PlainPickleSerializer).get_status()
        if status in wanted or time.monotonic() > deadline:
            return status  # type: ignore[return-value]
        time.sleep(0.1)


def ours(conn: redis.Redis) -> set[str]:
    return {k.decode() for k in conn.scan_iter(count=1000)} - {MARKER}


def test_two_instances_on_one_redis_run_only_their_own_jobs(
    redis_url: str, redis_conn: redis.Redis, sandboxes: dict[str, Sandbox], tmp_path: Path
) -> None:
    envs = {name: instance_env(name, redis_url, sb, tmp_path) for name, sb in sandboxes.items()}
    settings = {name: from_env(env, load_dotenv=False) for name, env in envs.items()}
    # beta's job is queued first: a worker that takes jobs of both deployments takes it first.
    jobs = {name: start_sync(redis_conn, settings[name], RunRequest("CUSTOMER")) for name in ("beta", "alpha")}
    children = Children()
    try:
        alpha = children.spawn("alpha", worker_argv("--name", "alpha-w"), envs["alpha"], log_dir=tmp_path / "logs")
        done = {JobStatus.FINISHED, JobStatus.FAILED}
        assert wait_status(redis_conn, jobs["alpha"], done) == JobStatus.FINISHED, alpha.tail(40)
        time.sleep(1.0)  # alpha's worker is idle now: it would have taken a job it could see
        beta_job = Job.fetch(jobs["beta"], connection=redis_conn, serializer=PlainPickleSerializer)
        assert beta_job.get_status() == JobStatus.QUEUED and beta_job.worker_name is None, alpha.tail(40)
        alpha_keys = {k for k in ours(redis_conn) if k.startswith(("alpha:", "rq:job:alpha-", "rq:results:alpha-"))}

        beta = children.spawn("beta", worker_argv("--name", "beta-w"), envs["beta"], log_dir=tmp_path / "logs")
        assert wait_status(redis_conn, jobs["beta"], done) == JobStatus.FINISHED, beta.tail(40)
    finally:
        children.stop_all()

    for name, job_id in jobs.items():
        job = Job.fetch(job_id, connection=redis_conn, serializer=PlainPickleSerializer)
        result: dict[str, Any] = job.return_value()  # type: ignore[assignment]
        assert job.worker_name == f"{name}-w" and job.origin == name and job_id.startswith(f"{name}-")
        # Run against its own simulators: its own Katana's customers, written to its own Luca.
        expected = len(katana_list(sandboxes[name], "customers"))
        assert result["total"] == result["created"] == expected and result["failed"] == 0, result
        assert len(luca_records(sandboxes[name], "customers")) == expected

    keys = ours(redis_conn)
    assert alpha_keys - keys <= expired_meanwhile(alpha_keys - keys)  # beta deleted nothing of alpha's
    ours_by = {name: {k for k in keys if k.startswith(f"{name}:")} for name in CUSTOMERS}
    assert all(ours_by.values())
    rq_keys = keys - set().union(*ours_by.values())
    assert all(k.startswith("rq:") for k in rq_keys), sorted(rq_keys)
    # RQ's per-queue keys are the two deployments' queues, never a shared `sync`.
    per_queue = {k.rsplit(":", 1)[1] for k in rq_keys if k.split(":")[1] in {"queue", "wip", "finished", "failed"}}
    assert per_queue <= set(CUSTOMERS) and "alpha" in per_queue and "beta" in per_queue, sorted(rq_keys)
    job_keys = {k.split(":")[2] for k in rq_keys if k.startswith("rq:job:")}
    assert job_keys and all(j.split("-")[0] in CUSTOMERS for j in job_keys), job_keys


def expired_meanwhile(gone: set[str]) -> set[str]:
    """Keys that are short-lived by design (readiness answers, creation claims, the run lock)."""
    return {k for k in gone if any(part in k for part in (":ready:", ":creating:", ":lock:", ":logins"))}


def test_a_worker_told_another_deployments_queue_refuses_to_start(
    redis_url: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    env = instance_env("alpha", redis_url, sandbox, tmp_path)
    argv = worker_argv("--burst")
    argv.insert(argv.index("worker") + 1, "beta")  # `rq worker beta -c syncsvc.ops.rq_settings`
    out = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "this deployment's queue is 'alpha' (SYNC_INSTANCE), not 'beta'" in out.stderr + out.stdout
    assert "Traceback" not in out.stderr


def test_a_plain_worker_with_another_deployments_settings_runs_nothing(
    redis_conn: redis.Redis, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    """`rq worker alpha` without -c, started with beta's environment: the job fails naming both
    deployments, and nothing reaches beta's simulators or keys."""
    alpha = from_env(instance_env("alpha", redis_url, sandbox, tmp_path), load_dotenv=False)
    job_id = start_sync(redis_conn, alpha, RunRequest("CUSTOMER"))
    for name, value in instance_env("beta", redis_url, sandbox, tmp_path).items():
        monkeypatch.setenv(name, value)
    from jobs.enqueue import sync_queue  # here: the module's first test also runs on the old code

    SimpleWorker([sync_queue(redis_conn, alpha)], connection=redis_conn, serializer=PlainPickleSerializer).work(
        burst=True
    )
    job = Job.fetch(job_id, connection=redis_conn, serializer=PlainPickleSerializer)
    assert job.get_status() == JobStatus.FAILED
    assert "queued on 'alpha' but this worker's deployment is 'beta'" in (job.latest_result().exc_string or "")  # type: ignore[union-attr]
    assert not [k for k in ours(redis_conn) if k.startswith("beta:")]
    assert luca_records(sandbox, "customers") == []
