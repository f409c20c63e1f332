"""Every RQ tool our users touch works on our jobs, through its real entry point (issue #10, 1-3).

The web app runs under gunicorn; the jobs are the real ones against the simulators; each RQ tool
is the console script an operator types (``rq worker``, ``rq info``, ``rq requeue``, ``rq cron``)
or rq-dashboard's HTTP routes, with the service's environment and the project as working directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from sandbox.testing import Sandbox
from syncsvc.net import free_port, wait_http
from syncsvc.ops.procs import ROOT, Children, web_argv
from tests.e2e.conftest import Stack, stack_env

RQ = str(Path(sys.executable).parent / "rq")


@pytest.fixture
def web(redis_url: str, tmp_path: Path, sandbox: Sandbox) -> Iterator[Stack]:
    """gunicorn with the real jobs and no worker: each test runs the RQ tool it is about."""
    children = Children()
    port = free_port()
    env = stack_env(redis_url, tmp_path, sandbox.katana_url, sandbox.luca_url, port)
    for test_hook in ("SYNCSVC_JOB_FUNCTION", "SYNC_PRELOAD"):
        env.pop(test_hook)
    # The default deployment (SYNC_INSTANCE unset: queue `sync`), whose queue the operator types.
    env.pop("SYNC_KEY_PREFIX")
    try:
        proc = children.spawn("web", web_argv(), env, log_dir=tmp_path / "logs")
        url = f"http://127.0.0.1:{port}"
        assert wait_http(f"{url}/healthz", timeout=20), proc.tail()
        yield Stack(url, env, proc, proc, env["SYNC_HISTORY_DB"])
    finally:
        children.stop_all()


def rq(stack: Stack, *args: str, env: dict[str, str] | None = None, timeout: float = 120, clean: bool = True) -> str:
    """Run the ``rq`` console script as an operator would; return its output (``clean``: no
    traceback in it, i.e. no job failed)."""
    out = subprocess.run(
        [RQ, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env={**os.environ, **stack.env, **(env or {})},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert not clean or "Traceback" not in out.stderr, out.stderr
    return out.stdout + out.stderr


def start(stack: Stack, sync_type: str, **body: Any) -> str:
    resp = stack.session().post(f"{stack.url}/api/sync/start", json={"syncType": sync_type, **body}, timeout=5)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["jobId"])


def job(stack: Stack, job_id: str) -> dict[str, Any]:
    resp = stack.session().get(f"{stack.url}/api/sync/job/{job_id}", timeout=5)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def dashboard(stack: Stack, method: str, path: str) -> requests.Response:
    # The bearer token, as curl sends it (browsers sign in at /login; Basic is not accepted).
    headers = {"Authorization": f"Bearer {stack.env['SYNC_API_TOKEN']}"}
    return requests.request(method, f"{stack.url}/rq{path}", headers=headers, timeout=10)


def fail_once(stack: Stack, conn: redis.Redis, sync_type: str) -> str:
    """A job that ended FAILED: its retries used up, run by a worker with a wrong Katana key."""
    job_id = start(stack, sync_type, limit=3)
    conn.hset(f"rq:job:{job_id}", "retries_left", 0)
    rq(stack, "worker", "sync", "--burst", env={"KATANA_API_KEY": "not-the-key"}, clean=False)
    body = job(stack, job_id)
    assert body["state"] == "FAILED" and body["error"], body
    return job_id


def test_plain_rq_worker_runs_our_jobs_and_rq_info_lists_them(web: Stack, redis_conn: redis.Redis) -> None:
    job_id = start(web, "PRODUCT", limit=5)
    info = rq(web, "info", "sync")
    assert "sync" in info and "1" in info
    # Exactly what the ops user typed: no -c, no flags, the service's environment.
    rq(web, "worker", "sync", "--burst")
    body = job(web, job_id)
    assert body["state"] == "FINISHED" and body["syncType"] == "PRODUCT", body
    assert body["result"]["total"] == 5 and body["result"]["failed"] == 0
    assert [h["stateName"] for h in body["history"]] == ["QUEUED", "STARTED", "FINISHED"]
    # The documented command runs them too (one job, then it stops: --burst).
    second = start(web, "CUSTOMER", limit=2)
    rq(web, "worker", "sync", "-c", "syncsvc.ops.rq_settings", "--with-scheduler", "--burst")
    assert job(web, second)["state"] == "FINISHED"


def test_dashboard_view_requeue_requeue_all_and_delete(web: Stack, redis_conn: redis.Redis) -> None:
    failed = fail_once(web, redis_conn, "PRODUCT")
    page = dashboard(web, "GET", f"/0/view/job/{failed}")
    assert page.status_code == 200 and failed in page.text
    data = dashboard(web, "GET", f"/0/data/job/{failed}.json")
    assert data.status_code == 200 and data.json()["status"] == "failed"

    assert dashboard(web, "POST", f"/job/{failed}/requeue").status_code == 200
    assert job(web, failed)["state"] == "QUEUED" and job(web, failed)["syncType"] == "PRODUCT"
    rq(web, "worker", "sync", "--burst")
    body = job(web, failed)
    assert body["state"] == "FINISHED" and body["syncType"] == "PRODUCT" and body["result"]["total"] == 3, body
    assert dashboard(web, "GET", f"/0/data/job/{failed}.json").status_code == 200

    again = fail_once(web, redis_conn, "CUSTOMER")
    assert dashboard(web, "POST", "/requeue/sync").status_code == 200  # "Requeue all"
    rq(web, "worker", "sync", "--burst")
    assert job(web, again)["state"] == "FINISHED"

    assert dashboard(web, "POST", f"/job/{again}/delete").status_code == 200
    assert web.session().get(f"{web.url}/api/sync/job/{again}", timeout=5).status_code == 404
    # The type is free again after the delete.
    start(web, "CUSTOMER", limit=1)


def test_rq_requeue_all_from_the_command_line(web: Stack, redis_conn: redis.Redis) -> None:
    failed = fail_once(web, redis_conn, "CUSTOMER")
    out = rq(web, "requeue", "--queue", "sync", "--all")
    assert "Requeued 1" in out or "1 jobs" in out or "requeued" in out.lower(), out
    rq(web, "worker", "sync", "--burst")
    body = job(web, failed)
    assert body["state"] == "FINISHED" and body["syncType"] == "CUSTOMER", body


def test_rq_cron_enqueues_a_job_the_worker_runs(web: Stack, redis_conn: redis.Redis, tmp_path: Path) -> None:
    config = tmp_path / "cron_config.py"
    config.write_text(
        "from rq import cron\n"
        "from jobs import tasks\n"
        "request = {'syncType': 'PRODUCT', 'limit': 2, 'dryRun': False, 'trigger': 'schedule'}\n"
        "cron.register(tasks.run_sync_job, queue_name='sync', args=(request,), interval=3600)\n"
    )
    env = {**os.environ, **web.env, "PYTHONPATH": str(ROOT)}
    log = tmp_path / "cron.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([RQ, "cron", str(config)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while redis_conn.llen("rq:queue:sync") == 0:
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    job_id = redis_conn.lindex("rq:queue:sync", 0)
    assert job_id is not None
    rq(web, "worker", "sync", "-c", "syncsvc.ops.rq_settings", "--burst")
    body = job(web, job_id.decode())
    assert body["state"] == "FINISHED" and body["result"]["total"] == 2, body
