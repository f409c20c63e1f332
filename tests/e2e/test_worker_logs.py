"""A real `rq worker sync` logs JSON lines carrying the run's fields: run start and finish, every
retry with attempt, delay and reason, every failed item, Luca re-logins; secrets stay masked.

Issue #11 measured 66 injected Luca faults and 0 log lines: rq never configured the root logger.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import requests

from sandbox.testing import Sandbox
from tests.e2e.conftest import Stack


def finish(s: requests.Session, url: str, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = s.get(f"{url}/api/sync/job/{job_id}", timeout=5).json()
        if job["state"] in ("FINISHED", "FAILED"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def _records(path: Path) -> list[dict[str, Any]]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line in {path.name}: {line[:200]}") from None
    return records


def test_injected_luca_faults_appear_as_json_retry_lines(json_stack: Stack, sandbox: Sandbox) -> None:
    faults = {
        "bad_gateway": {"every": 3, "actions": ["EkleStkWsSkart"]},
        "session_expiry": {"every": 7, "actions": ["EkleStkWsSkart"]},
    }
    sandbox.admin("luca", "POST", "faults", {"faults": faults, "seed": 3})
    s = json_stack.session()
    resp = s.post(f"{json_stack.url}/api/sync/start", json={"syncType": "PRODUCT", "limit": 30}, timeout=5)
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["jobId"]
    job = finish(s, json_stack.url, job_id)
    assert job["state"] == "FINISHED", job
    injected = sandbox.admin("luca", "GET", "faults")["injected"]
    assert injected["bad_gateway"] > 0 and injected["session_expiry"] > 0
    time.sleep(0.5)  # the horse's last lines reach the file

    records = _records(json_stack.worker.log_path)  # type: ignore[arg-type]
    ours = [r for r in records if r.get("run_id") == job_id]
    assert all(r["job_id"] == job_id and r["sync_type"] == "PRODUCT" for r in ours)
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)

    started = [r for r in ours if "started" in r["message"] and r["logger"] == "jobs.run"]
    finished = [r for r in ours if r.get("status") == "finished"]
    assert len(started) == 1 and len(finished) == 1
    result = job["result"]
    assert finished[0]["counts"]["total"] == result["total"] == 30
    assert finished[0]["counts"]["created"] == result["created"] and finished[0]["seconds"] > 0

    retries = [r for r in ours if r["message"].startswith("retrying item")]
    # Every 502 on a card create is a retry line, or a failed-item line when it hit the last
    # attempt of a round (session expiries heal inside the client, with a re-login).
    gateway = [r for r in ours if "HTTP 502" in r["message"]]
    assert len(gateway) == injected["bad_gateway"] and retries
    for r in retries:
        assert r["key"] and r["attempt"] >= 1 and r["delay_s"] >= 0 and r["reason"]
    relogins = [r for r in ours if r["logger"].startswith("syncsvc.clients.luca")]
    assert relogins, "a Luca re-login after session expiry is logged with the run's fields"

    text = json_stack.worker.log_path.read_text()  # type: ignore[union-attr]
    assert "demo-luca-pass" not in text and json_stack.env["SYNC_API_TOKEN"] not in text


def test_web_process_logs_json_lines_with_an_access_log(json_stack: Stack) -> None:
    s = json_stack.session()
    assert s.get(f"{json_stack.url}/api/sync/history", timeout=5).status_code == 200
    time.sleep(0.3)
    records = _records(json_stack.web.log_path)  # type: ignore[arg-type]
    access = [r for r in records if r["logger"] == "gunicorn.access"]
    assert any("/api/sync/history" in r["message"] for r in access)
    assert json_stack.env["SYNC_API_TOKEN"] not in json_stack.web.log_path.read_text()  # type: ignore[union-attr]
