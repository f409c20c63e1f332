"""Issue 5 §3: Redis restarted mid-run (append-only) and Redis lost entirely (FLUSHALL).

While Redis is down the API answers 503; afterwards there are no duplicates in Luca and a run
started through the API ends with exactly the expected records.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from sandbox.testing import Sandbox
from syncsvc.store.history import open_history
from tests.integration.engine_helpers import expected_card_codes, luca_records, luca_state
from tests.reliability import figures
from tests.reliability.checks import accounted, assert_luca_exact
from tests.reliability.stack import Service, kill, luca_duplicates

DATA = ("--products", "120", "--variants-per-product", "2-3", "--customers", "60", "--orders", "120")
SLOW_LUCA = {"latency_ms": 80, "jitter_ms": 20, "faults": {}}
OUTAGE_S = 5
pytestmark = pytest.mark.timeout(900)


def _api_is_503_while_down(svc: Service, job_id: str) -> None:
    for method, path, body in (("GET", f"/api/sync/job/{job_id}", None), ("POST", "/api/sync/start",
                               {"syncType": "CUSTOMER"}), ("GET", "/readyz", None)):  # fmt: skip
        resp = svc.http.request(method, svc.url + path, json=body, timeout=10)
        assert resp.status_code == 503, (path, resp.status_code, resp.text)
        assert "redis" in resp.text.lower()


def test_redis_restarted_mid_run(make_sandbox: Callable[..., Sandbox], make_service: Callable[..., Service]) -> None:
    sb = make_sandbox(*DATA)
    sb.admin("luca", "POST", "faults", SLOW_LUCA)
    svc = make_service(sb, workers=1)
    job_id = svc.start_sync("PRODUCT")
    svc.wait_progress(job_id, processed=40, timeout=120)
    busy = svc.workers[0]
    svc.redis.shutdown()
    down_at = time.monotonic()
    _api_is_503_while_down(svc, job_id)
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
    svc.redis.start()
    outage = round(time.monotonic() - down_at, 1)

    # rq 2.12 retries Redis only in its idle dequeue loop: the job fails on the lost connection and
    # the worker, unable to record that, quits ("found an unhandled exception, quitting").
    busy.proc.wait(timeout=60)
    assert "found an unhandled exception, quitting" in busy.tail(400)
    # Production restarts it (compose: restart: unless-stopped). The job, restored from the
    # append-only file, is still STARTED; the new worker's maintenance finds it abandoned and RQ
    # retries it.
    assert svc.job(job_id)["state"] == "STARTED"
    svc.add_worker()
    body = svc.wait_job(job_id, timeout=300)
    assert body["retriesLeft"] == 1
    run = accounted(svc.history_db, job_id)

    # An idle worker rides out a restart by itself (RQ's dequeue loop reconnects with backoff).
    # Idle means in that loop: not still recording the job it just finished.
    idle = svc.workers[-1]
    conn = svc.redis.client()
    deadline = time.monotonic() + 30
    ours = [k for k in conn.smembers("rq:workers") if conn.hget(k, "pid") == str(idle.proc.pid).encode()]
    while conn.hget(ours[0], "state") != b"idle":
        assert time.monotonic() < deadline, "the worker did not become idle"
        time.sleep(0.2)
    conn.close()
    time.sleep(1.0)
    svc.redis.shutdown()
    time.sleep(OUTAGE_S)
    svc.redis.start()
    for sync_type in ("CUSTOMER", "INVOICE"):
        svc.wait_job(svc.start_sync(sync_type), timeout=300)
    assert idle.alive() and len(svc.workers) == 2
    invoices = svc.wait_job(svc.start_sync("INVOICE"), timeout=300)["jobId"]
    found = assert_luca_exact(sb, accounted(svc.history_db, invoices)["failed_items"])
    figures.record(
        f"Redis restarted mid-run ({outage} s down)",
        items=run["items"],
        logins=luca_state(sb)["logins"],
        duplicates=found["duplicates"],
        lost=found["lost"],
    )


@pytest.mark.parametrize("sync_type", ["PRODUCT", "INVOICE"])
def test_redis_flushed_mid_run_then_run_again(
    make_sandbox: Callable[..., Sandbox], make_service: Callable[..., Service], sync_type: str
) -> None:
    sb = make_sandbox(*DATA)
    sb.admin("luca", "POST", "faults", SLOW_LUCA)
    svc = make_service(sb, workers=2)
    lost_job = svc.start_sync(sync_type)
    svc.wait_job(lost_job, lambda b: b["state"] == "STARTED" and (b["progress"] or {}).get("processed", 0) >= 20)
    client = svc.redis.client()
    client.flushall()  # every queue, registry, claim, lock, cache and the Luca session: gone
    client.close()
    assert svc.http.get(f"{svc.url}/api/sync/job/{lost_job}", timeout=10).status_code == 404

    # Nothing in Redis remembers the run, so the API accepts a new one at once (unless the
    # orphaned run, noticing, queued its own continuation first: then that is the new run).
    sb.admin("luca", "POST", "faults", {"latency_ms": 10, "faults": {}})
    resp = svc.http.post(f"{svc.url}/api/sync/start", json={"syncType": sync_type}, timeout=10)
    assert resp.status_code in (202, 409), resp.text
    job_id = resp.json()["jobId"]
    svc.wait_job(job_id, timeout=300)
    # Let the orphaned first run (still executing in its work horse) end before counting.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and luca_state(sb).get("in_flight", 0):
        time.sleep(0.5)
    assert luca_duplicates(sb) == {"stock_cards": [], "customers": [], "invoices": []}
    # A clean full run after the dust settled adds nothing (full: an incremental run would read
    # only what changed since the cursor and prove nothing about the rest of the catalog).
    again = svc.start_sync(sync_type, mode="full")
    result = svc.wait_job(again, timeout=300)["result"]
    assert result["created"] == 0, result
    run = accounted(svc.history_db, again)
    if sync_type == "INVOICE":
        for t in ("PRODUCT", "CUSTOMER"):
            svc.wait_job(svc.start_sync(t), timeout=300)
        found = assert_luca_exact(sb, run["failed_items"])
    else:
        found = {"duplicates": 0, "lost": 0}
        assert luca_state(sb)["stock_cards"]["count"] == result["total"] - result["failed"]
    figures.record(f"Redis FLUSHALL mid-{sync_type} run", items=run["items"], duplicates=found["duplicates"],
                   lost=found["lost"])  # fmt: skip


def test_redis_flushed_between_runs(make_sandbox: Callable[..., Sandbox], make_service: Callable[..., Service]) -> None:
    sb = make_sandbox(*DATA)
    svc = make_service(sb, workers=1)
    first = {t: svc.start_sync(t) for t in ("PRODUCT", "CUSTOMER", "INVOICE")}
    for job_id in first.values():
        svc.wait_job(job_id, timeout=300)
    client = svc.redis.client()
    client.flushall()
    client.close()
    # Full runs: the cursor survives in the history, but this checks every record is adopted.
    second = {t: svc.start_sync(t, mode="full") for t in ("PRODUCT", "CUSTOMER", "INVOICE")}
    results = {t: svc.wait_job(j, timeout=300)["result"] for t, j in second.items()}
    assert all(r["created"] == 0 for r in results.values()), results  # adopted from Luca, not re-created
    found = assert_luca_exact(sb, accounted(svc.history_db, second["INVOICE"])["failed_items"])
    figures.record("Redis FLUSHALL between runs", items=sum(r["total"] for r in results.values()),
                   duplicates=found["duplicates"], lost=found["lost"])  # fmt: skip


def _healed(svc: Service, lost: str, timeout: float = 300) -> tuple[dict[str, Any], dict[str, Any]]:
    """Wait until the orphan ``lost`` is closed and the run resuming it has finished, with nobody
    starting anything; returns both history rows."""
    deadline = time.monotonic() + timeout
    while True:
        history = open_history(svc.history_db, migrate=False)
        try:
            orphan = history.get_run(lost)
            resumed = [r for r in history.list_runs(limit=50)[0] if r["parent_run_id"] == lost]
        finally:
            history.close()
        if orphan and orphan["status"] == "failed" and resumed and resumed[0]["status"] == "finished":
            return orphan, resumed[0]
        assert time.monotonic() < deadline, f"{lost} not healed: {orphan} {resumed}\n{svc.tails()}"
        time.sleep(0.5)


@pytest.mark.parametrize("worker_died", [False, True], ids=["worker-lives", "worker-died-too"])
def test_a_run_orphaned_by_a_flush_heals_without_anybody(
    make_sandbox: Callable[..., Sandbox], make_service: Callable[..., Service], worker_died: bool
) -> None:
    """Issue #10 defect 8: the orphaned PRODUCT run was marked failed and its missing cards waited
    for someone to start PRODUCT again (worker alive), or its row stayed ``running`` for ever
    (worker dead too). Now it is closed with the reason and its items, and a ``recovery`` run
    does the rest by itself."""
    sb = make_sandbox(*DATA)
    sb.admin("luca", "POST", "faults", SLOW_LUCA)
    svc = make_service(sb, workers=1)
    lost = svc.start_sync("PRODUCT")
    svc.wait_progress(lost, processed=40, timeout=120)
    if worker_died:
        kill(svc.workers[0])
    client = svc.redis.client()
    client.flushall()
    client.close()
    flushed = time.monotonic()
    if worker_died:
        svc.add_worker()  # the supervisor's restart; its watchdog finds the orphan
    sb.admin("luca", "POST", "faults", {"latency_ms": 10, "faults": {}})
    orphan, resumed = _healed(svc, lost)
    healed_s = round(time.monotonic() - flushed, 1)
    assert orphan["error"].startswith("JobVanished: Redis lost this run's job and run lock"), orphan["error"]
    assert resumed["run_id"] in orphan["error"] and resumed["trigger"] == "recovery"
    assert orphan["created"] >= 40 if not worker_died else orphan["created"] > 0
    run = accounted(svc.history_db, resumed["run_id"])
    assert luca_duplicates(sb) == {"stock_cards": [], "customers": [], "invoices": []}
    cards = {r["kartKodu"] for r in luca_records(sb, "stock_cards")}
    assert cards == expected_card_codes(sb)
    figures.record(
        f"Redis FLUSHALL mid-PRODUCT run, {'worker killed too' if worker_died else 'worker alive'}: healed",
        items=run["items"],
        seconds=healed_s,
        duplicates=0,
        lost=0,
    )
