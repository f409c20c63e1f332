"""An unwritable run history (issue #11, item 9: immutable file and directory killed a gunicorn
worker and a work horse with SIGBUS) fails the run with one line; no process dies; not ready."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil
import requests

from sandbox.testing import Sandbox
from tests.e2e.conftest import Stack
from tests.e2e.test_worker_logs import finish
from tests.integration.test_readiness import unwritable


def waiting(s: requests.Session, url: str, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = s.get(f"{url}/api/sync/job/{job_id}", timeout=5).json()
        if job["state"] not in ("QUEUED", "STARTED") and (job.get("error") or (job.get("progress") or {}).get("error")):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} neither failed nor waits: {job}")


def _pids(stack: Stack) -> set[int]:
    pids = set()
    for child in (stack.web, stack.worker):
        proc = psutil.Process(child.proc.pid)
        pids |= {proc.pid, *(p.pid for p in proc.children(recursive=True))}
    return pids


def test_unwritable_history_fails_the_run_and_nothing_dies(json_stack: Stack, sandbox: Sandbox) -> None:
    s = json_stack.session()
    url = json_stack.url
    first = s.post(f"{url}/api/sync/start", json={"syncType": "CUSTOMER", "limit": 5}, timeout=5).json()
    assert finish(s, url, first["jobId"])["state"] == "FINISHED"
    assert s.get(f"{url}/api/sync/history", timeout=5).status_code == 200  # web has the db open
    db = Path(json_stack.history_db)
    before = _pids(json_stack)
    with unwritable(*db.parent.glob(db.name + "*"), db.parent):
        job = s.post(f"{url}/api/sync/start", json={"syncType": "PRODUCT", "limit": 5}, timeout=5).json()
        ended = waiting(s, url, job["jobId"])
        # The run waits for a retry (RQ's job retry) with the reason in one line.
        assert ended["state"] in ("SCHEDULED", "FAILED"), ended
        reason = ended.get("error") or ended["progress"]["error"]
        assert "run history not writable" in reason and "SYNC_HISTORY_DB" in reason and "\n" not in reason
        ready = s.get(f"{url}/readyz", timeout=10)
        assert ready.status_code == 503 and not ready.json()["checks"]["historyDb"]["ok"]
        listed = s.get(f"{url}/api/sync/history", timeout=5)
        assert listed.status_code == 503 and "SYNC_HISTORY_DB" in listed.json()["error"]
        time.sleep(0.5)
    assert json_stack.web.alive() and json_stack.worker.alive()
    # The long-lived processes are the same ones (no gunicorn worker was replaced after a crash).
    assert before <= _pids(json_stack) | {p for p in before if not psutil.pid_exists(p)}
    assert all(psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in before if psutil.pid_exists(p))
    text = json_stack.worker.log_path.read_text()  # type: ignore[union-attr]
    assert "SIGBUS" not in text and "run history not writable" in text
    # Writable again: the next run works.
    again = s.post(f"{url}/api/sync/start", json={"syncType": "CUSTOMER", "limit": 5}, timeout=5).json()
    assert finish(s, url, again["jobId"])["state"] == "FINISHED"
