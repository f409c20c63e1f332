"""End to end over HTTP: gunicorn serving create_app() and a real `rq worker sync` subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from typing import Any

import redis
import requests

from syncsvc.store import pause
from tests.e2e.conftest import Stack
from tests.e2e.fake_jobs import HOLD_KEY

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def poll(session: requests.Session, url: str, until: Any, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = session.get(url, timeout=5).json()
        if until(body):
            return body
        time.sleep(0.05)
    raise AssertionError(f"condition not reached; last body: {body}")


def test_start_poll_conflict_finish_and_history(stack: Stack, redis_conn: redis.Redis) -> None:
    s = stack.session()
    assert requests.post(f"{stack.url}/api/sync/start", json={"syncType": "PRODUCT"}, timeout=5).status_code == 401

    redis_conn.set(HOLD_KEY, "1")  # park the job mid-run
    resp = s.post(f"{stack.url}/api/sync/start", json={"syncType": "PRODUCT", "limit": 5}, timeout=5)
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["jobId"]
    assert resp.json()["dashboardUrl"] == f"{stack.url}/rq/0/view/job/{job_id}"
    job_url = f"{stack.url}/api/sync/job/{job_id}"

    running = poll(s, job_url, lambda b: b["state"] == "STARTED" and (b["progress"] or {}).get("processed") == 2)
    assert running["progress"]["phase"] == "syncing" and running["progress"]["total"] == 5
    assert [h["stateName"] for h in running["history"]] == ["QUEUED", "STARTED"]

    again = s.post(f"{stack.url}/api/sync/start", json={"syncType": "PRODUCT"}, timeout=5)
    assert again.status_code == 409 and again.json()["jobId"] == job_id

    # The dashboard shows the running job (bearer token; browsers sign in at /login instead).
    page = s.get(stack.url + f"/rq/0/view/job/{job_id}", timeout=5)
    assert page.status_code == 200 and job_id in page.text
    assert requests.get(stack.url + "/rq/", timeout=5).headers["WWW-Authenticate"] == 'Bearer realm="syncsvc"'

    redis_conn.delete(HOLD_KEY)
    done = poll(s, job_url, lambda b: b["state"] == "FINISHED")
    assert done["result"]["runId"] == job_id and done["result"]["created"] == 4 and done["result"]["failed"] == 1
    assert done["progress"]["phase"] == "done"
    assert [h["stateName"] for h in done["history"]] == ["QUEUED", "STARTED", "FINISHED"]

    runs = s.get(f"{stack.url}/api/sync/history?type=PRODUCT", timeout=5).json()
    assert runs["total"] == 1 and runs["runs"][0]["runId"] == job_id and runs["runs"][0]["status"] == "finished"
    failed = s.get(f"{stack.url}/api/sync/history/{job_id}/items?outcome=failed", timeout=5).json()
    assert [i["itemKey"] for i in failed["items"]] == ["SKU-4"]
    assert s.get(f"{stack.url}/api/sync/history/{job_id}", timeout=5).json()["outcomeCounts"] == {
        "created": 4,
        "failed": 1,
    }
    # The type is free again.
    assert s.post(f"{stack.url}/api/sync/start", json={"syncType": "PRODUCT"}, timeout=5).status_code == 202
    ready = requests.get(f"{stack.url}/readyz", timeout=10).json()
    assert ready["checks"]["redis"]["ok"] and ready["checks"]["historyDb"]["ok"], ready
    # The stack's Katana and Luca are 404 stubs: not ready, and the reason names the setting.
    assert not ready["ready"] and "KATANA_BASE_URL" in ready["checks"]["katana"]["detail"]


def run_cli(stack: Stack, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **stack.env, "PYTHONWARNINGS": "error"}
    return subprocess.run(
        [sys.executable, "-m", "syncsvc", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )


def test_cli_against_the_stack(stack: Stack) -> None:
    out = run_cli(stack, "start", "INVOICE", "--limit", "3", "--wait")
    assert out.returncode == 0, out.stderr
    assert "Sync job queued successfully: INVOICE" in out.stdout and "Sync results" in out.stdout
    assert re.search(r"INVOICE\s+FINISHED\s+3\s+3", out.stdout), out.stdout
    # Piped: 80 columns, and no figure cut (issue #11, item 7).
    assert all(len(line) <= 80 for line in out.stdout.splitlines()), out.stdout
    job_id = re.search(r"job (e2e-[0-9a-f]{32})", out.stdout).group(1)  # type: ignore[union-attr]

    status = run_cli(stack, "status", job_id, "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["state"] == "FINISHED"
    summary = run_cli(stack, "status", job_id)
    assert summary.returncode == 0 and "FINISHED" in summary.stdout and '"state"' not in summary.stdout
    assert all(len(line) <= 80 for line in summary.stdout.splitlines()), summary.stdout

    history = run_cli(stack, "history", "--type", "INVOICE")
    assert history.returncode == 0 and job_id in history.stdout
    assert all(len(line) <= 80 for line in history.stdout.splitlines()), history.stdout

    missing = run_cli(stack, "status", "0" * 32)
    assert missing.returncode == 1
    assert missing.stderr.startswith("syncsvc: HTTP 404") and "Traceback" not in missing.stderr

    wrong = subprocess.run(
        [sys.executable, "-m", "syncsvc", "history"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        env={**os.environ, **stack.env, "SYNC_API_TOKEN": "nope"},
    )
    assert wrong.returncode == 1 and wrong.stderr.strip() == "syncsvc: HTTP 401: invalid token"


def test_cli_shows_a_paused_type_and_resumes_it(stack: Stack, redis_conn: redis.Redis) -> None:
    for _ in range(3):
        pause.record_systemic_failure(redis_conn, "e2e", "INVOICE", "AccessRefused: Luca refused the login", 3)
    shown = run_cli(stack, "types")
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"INVOICE\s+PAUSED\s+3", shown.stdout) and "Luca refused the login" in shown.stdout
    assert "syncsvc resume INVOICE" in shown.stdout
    assert all(len(line) <= 80 for line in shown.stdout.splitlines()), shown.stdout
    resumed = run_cli(stack, "resume", "INVOICE")
    assert resumed.returncode == 0 and "INVOICE resumed" in resumed.stdout
    assert pause.paused(redis_conn, "e2e", "INVOICE") is None
