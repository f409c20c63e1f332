"""Workers on two hosts, one history: a web app and two `rq worker sync` processes, each started
from its own working directory (own var/, no shared files), against one Redis and one PostgreSQL.
Every run of both workers shows in the API with its items."""

from __future__ import annotations

import time
from pathlib import Path

import redis
import requests
from rq import Worker
from rq.job import Job

from sandbox.testing import Sandbox
from syncsvc.net import free_port, wait_http
from syncsvc.ops.procs import ROOT, Children, web_argv, worker_argv
from tests.e2e.conftest import stack_env
from tests.e2e.test_real_sync import _finish

HOSTS = ("host-a", "host-b")


def test_runs_of_workers_on_two_hosts_all_show_in_the_api(
    redis_url: str, redis_conn: redis.Redis, sandbox: Sandbox, pg_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = stack_env(redis_url, tmp_path, sandbox.katana_url, sandbox.luca_url, port)
    for local in ("SYNCSVC_JOB_FUNCTION", "SYNC_PRELOAD", "SYNC_HISTORY_DB"):  # real jobs; no shared file
        env.pop(local)
    env.update(SYNC_HISTORY_URL=pg_url, PYTHONPATH=str(ROOT))
    dirs = {name: tmp_path / name for name in ("web-host", *HOSTS)}
    for d in dirs.values():
        d.mkdir()
    children = Children()
    try:
        web = children.spawn("web", web_argv(), env, log_dir=dirs["web-host"] / "logs", cwd=dirs["web-host"])
        for host in HOSTS:
            children.spawn(host, worker_argv("--name", host), env, log_dir=dirs[host] / "logs", cwd=dirs[host])
        url = f"http://127.0.0.1:{port}"
        assert wait_http(f"{url}/healthz", timeout=20), web.tail()
        deadline = time.monotonic() + 30
        while {w.name for w in Worker.all(connection=redis_conn)} != set(HOSTS):
            assert time.monotonic() < deadline, [c.tail() for c in children.items]
            time.sleep(0.2)

        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {env['SYNC_API_TOKEN']}"
        results = []
        for _ in range(4):  # rounds until each host ran something (the queue hands jobs to whoever is idle)
            jobs = []
            for sync_type in ("PRODUCT", "CUSTOMER", "INVOICE"):
                resp = s.post(f"{url}/api/sync/start", json={"syncType": sync_type, "limit": 40}, timeout=5)
                assert resp.status_code == 202, resp.text
                jobs.append(resp.json()["jobId"])
            for job_id in jobs:
                job = _finish(s, url, job_id)
                assert job["state"] == "FINISHED", (job, [c.tail() for c in children.items])
                results.append((Job.fetch(job_id, connection=redis_conn).worker_name, job["result"]))
            if {worker for worker, _ in results} == set(HOSTS):
                break
        assert {worker for worker, _ in results} == set(HOSTS)

        page = s.get(f"{url}/api/sync/history", params={"limit": 100}, timeout=5).json()
        assert page["total"] == len(results)
        listed = {r["runId"]: r for r in page["runs"]}
        for _, result in results:
            run = listed[result["runId"]]
            assert run["status"] == "finished" and run["total"] == result["total"] > 0
            items = s.get(f"{url}/api/sync/history/{result['runId']}/items", params={"limit": 1000}, timeout=5).json()
            assert items["total"] == result["total"] == len(items["items"])
        ready = s.get(f"{url}/readyz", timeout=10).json()["checks"]["historyDb"]
        assert ready["ok"] and "postgresql" in ready["detail"]
    finally:
        children.stop_all()
    assert list(tmp_path.rglob("*.db")) == []  # nothing went to a host's own SQLite file
