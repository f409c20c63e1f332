"""The whole service against the simulators: gunicorn + a real `rq worker sync` running the real jobs,
driven over HTTP like a user with curl would, then checked against history and Luca's state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.testing import Sandbox
from syncsvc.net import free_port
from syncsvc.web.schemas import JobStatus
from tests.e2e.conftest import Stack, running_stack, stack_env


@pytest.fixture
def real_stack(redis_url: str, tmp_path: Path, sandbox: Sandbox) -> Iterator[Stack]:
    port = free_port()
    env = stack_env(redis_url, tmp_path, sandbox.katana_url, sandbox.luca_url, port)
    for test_hook in ("SYNCSVC_JOB_FUNCTION", "SYNC_PRELOAD"):  # the real jobs this time
        env.pop(test_hook)
    with running_stack(env, port, tmp_path / "logs") as running:
        yield running


def _finish(s: requests.Session, url: str, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen_progress = False
    while time.monotonic() < deadline:
        job = s.get(f"{url}/api/sync/job/{job_id}", timeout=5).json()
        JobStatus.model_validate(job)  # the real engine's progress and result, as documented
        seen_progress |= bool((job.get("progress") or {}).get("total"))
        if job["state"] in ("FINISHED", "FAILED"):
            assert seen_progress or job["state"] == "FINISHED"
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_each_sync_type_over_http_to_completion(real_stack: Stack, sandbox: Sandbox) -> None:
    s = real_stack.session()
    results = {}
    for sync_type in ("PRODUCT", "CUSTOMER", "INVOICE"):
        resp = s.post(f"{real_stack.url}/api/sync/start", json={"syncType": sync_type}, timeout=5)
        assert resp.status_code == 202, resp.text
        job = _finish(s, real_stack.url, resp.json()["jobId"])
        assert job["state"] == "FINISHED", (job, real_stack.worker.tail())
        result = job["result"]
        assert result["total"] == sum(result[k] for k in ("created", "updated", "adopted", "skipped", "failed"))
        assert [h["stateName"] for h in job["history"]][-1] == "FINISHED"
        results[sync_type] = result

        runs = s.get(f"{real_stack.url}/api/sync/history", params={"type": sync_type}, timeout=5).json()
        run = next((r for r in runs["runs"] if r["runId"] == result["runId"]), None)
        assert run is not None, (runs, result["runId"])
        assert run["status"] == "finished" and run["total"] == result["total"]
        items = s.get(
            f"{real_stack.url}/api/sync/history/{result['runId']}/items", params={"limit": 1000}, timeout=5
        ).json()
        assert items["total"] == result["total"]

    state = sandbox.admin("luca", "GET", "state")
    assert state["stock_cards"]["count"] >= results["PRODUCT"]["created"] > 0
    assert state["customers"]["count"] == results["CUSTOMER"]["created"] + results["INVOICE"]["ensured"].get(
        "customers", {}
    ).get("created", 0)
    assert state["invoices"]["count"] == results["INVOICE"]["created"] > 0
    assert state["stock_cards"]["duplicate_codes"] == state["customers"]["duplicate_codes"] == []
    assert state["invoices"]["duplicate_tracking_numbers"] == []
    cache = s.get(f"{real_stack.url}/api/cache/status", timeout=5).json()
    assert cache["stockCards"]["entries"] == state["stock_cards"]["count"]
    assert cache["stockCards"]["message"].startswith("Healthy:")
