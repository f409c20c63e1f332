"""Workers killed mid-run, with RQ's default timings and the documented worker command.

A killed run must come back within 90 s of the kill, with no duplicate in Luca and nothing lost.
RQ alone needs its 10-minute maintenance pass for that (issue #10 defect 4: 840 s); the run lock's
silence tells sooner (jobs/recovery.py): the live workers' watchdogs hand the run back once its
lock has expired (60 s), and a worker whose main process dies takes its work horse and scheduler
with it (syncsvc/parentdeath.py). No test-only worker flags here.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import psutil
import pytest
import redis

from sandbox.testing import Sandbox
from syncsvc.ops.procs import Child
from tests.integration.engine_helpers import expected_card_codes, luca_records, luca_state
from tests.reliability import figures
from tests.reliability.checks import accounted, assert_luca_exact
from tests.reliability.stack import Service, kill

DATA = ("--products", "150", "--variants-per-product", "2-3", "--customers", "120", "--orders", "160")
# Slow enough that every run is mid-flight when the workers die.
SLOW_LUCA = {"latency_ms": 200, "jitter_ms": 50, "faults": {}}
FAST_LUCA = {"latency_ms": 10, "jitter_ms": 5, "faults": {}}
TYPES = ("PRODUCT", "CUSTOMER", "INVOICE")
RECOVERY_LIMIT_S = 90
pytestmark = pytest.mark.timeout(900)


def started_at(conn: redis.Redis, job_id: str) -> bytes | None:
    return conn.hget(f"rq:job:{job_id}", "started_at")


def running_worker(conn: redis.Redis, svc: Service, job_id: str) -> Child:
    name = conn.hget(f"rq:job:{job_id}", "worker_name")
    pid = int(conn.hget(f"rq:worker:{name.decode()}", "pid") or 0) if name else 0
    return next(w for w in svc.workers if w.proc.pid == pid)


def wait_handed_back(conn: redis.Redis, job_id: str, killed_started: bytes | None, limit: float) -> float:
    """Seconds until the killed execution is no longer what the job is: queued again or started anew."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit + 30:
        status = conn.hget(f"rq:job:{job_id}", "status")
        if status == b"queued" or (status == b"started" and started_at(conn, job_id) != killed_started):
            return time.monotonic() - t0
        if status in (b"finished", b"failed"):
            raise AssertionError(f"job {job_id} ended {status!r} instead of being handed back")
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} was not handed back within {limit + 30} s")


@pytest.mark.parametrize("how", ["SIGKILL whole tree", "SIGKILL main pid only", "SIGTERM, SIGKILL after grace"])
def test_a_killed_run_resumes_on_a_live_worker_within_90_s(
    make_sandbox: Callable[..., Sandbox], make_service: Callable[..., Service], how: str
) -> None:
    sb = make_sandbox(*DATA)
    sb.admin("luca", "POST", "faults", SLOW_LUCA)
    svc = make_service(sb, workers=1)  # the first worker holds the scheduler lock
    job_id = svc.start_sync("PRODUCT")
    svc.wait_progress(job_id, processed=20, timeout=120)
    svc.add_worker()  # the live one
    conn = svc.redis.client()
    victim = running_worker(conn, svc, job_id)
    tree = [psutil.Process(victim.proc.pid), *psutil.Process(victim.proc.pid).children(recursive=True)]
    assert len(tree) == 3, tree  # the worker, its scheduler and the work horse running the job
    killed_started = started_at(conn, job_id)
    if how == "SIGKILL whole tree":
        kill(victim, signal.SIGKILL)
    elif how == "SIGKILL main pid only":
        victim.proc.send_signal(signal.SIGKILL)
    else:  # what `docker compose stop` does to a run longer than stop_grace_period
        victim.proc.send_signal(signal.SIGTERM)
        time.sleep(5)
        kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    victim.proc.wait(timeout=10)

    # Nothing of the dead worker lives on, and it holds no scheduler lock.
    gone, alive = psutil.wait_procs(tree, timeout=10)
    assert alive == [], alive
    deadline = time.monotonic() + 10
    lock = f"rq:scheduler-lock:{svc.env()['SYNC_KEY_PREFIX']}"  # the queue is the instance
    while (holder := conn.get(lock)) is not None and victim_name(conn, holder, tree):
        assert time.monotonic() < deadline, f"the dead worker still holds the scheduler lock: {holder!r}"
        time.sleep(0.2)

    handed_back_s = wait_handed_back(conn, job_id, killed_started, RECOVERY_LIMIT_S)
    assert handed_back_s <= RECOVERY_LIMIT_S, handed_back_s
    sb.admin("luca", "POST", "faults", FAST_LUCA)
    body = svc.wait_job(job_id, timeout=300)
    resumed_s = round(time.monotonic() - killed_at)
    assert [h["stateName"] for h in body["history"]].count("ABANDONED") == 1, body["history"]
    run = accounted(svc.history_db, job_id)
    assert luca_state(sb)["stock_cards"]["duplicate_codes"] == []
    codes = [r["kartKodu"] for r in luca_records(sb, "stock_cards")]
    assert sorted(codes) == sorted(expected_card_codes(sb))  # one card per SKU: none lost, none doubled
    assert body["result"]["adopted"] + body["result"]["skipped"] + body["result"]["updated"] > 0  # resumed, not redone
    figures.record(
        f"{how} killed mid-run, a live worker resumes",
        items=run["items"],
        kills=1,
        duplicates=0,
        lost=0,
        seconds=f"{handed_back_s:.0f} to resume, {resumed_s} to finish",
    )
    conn.close()


def victim_name(conn: redis.Redis, holder: bytes, tree: list[psutil.Process]) -> bool:
    """Whether the scheduler-lock holder (a worker name) is one of the killed processes."""
    pid = conn.hget(f"rq:worker:{holder.decode()}", "pid")
    return pid is not None and int(pid) in {p.pid for p in tree}


def test_sigkilled_workers_runs_resume_on_a_new_worker_within_90_s(
    make_sandbox: Callable[..., Sandbox], make_service: Callable[..., Service]
) -> None:
    sb = make_sandbox(*DATA)
    sb.admin("luca", "POST", "faults", SLOW_LUCA)
    svc = make_service(sb, workers=3)
    jobs = {t: svc.start_sync(t) for t in TYPES}
    for job_id in jobs.values():
        svc.wait_job(job_id, lambda b: b["state"] == "STARTED" and (b["progress"] or {}).get("processed", 0) >= 5)
    conn = svc.redis.client()
    killed = {t: started_at(conn, j) for t, j in jobs.items()}
    before = {t: svc.job(j)["progress"]["processed"] for t, j in jobs.items()}
    for worker in svc.workers:
        kill(worker, signal.SIGKILL)
        worker.proc.wait(timeout=10)
    killed_at = time.monotonic()

    # Right after the kill the run locks still live: a new start is refused, not duplicated.
    for t, job_id in jobs.items():
        again = svc.http.post(f"{svc.url}/api/sync/start", json={"syncType": t}, timeout=10)
        assert again.status_code == 409 and again.json()["jobId"] == job_id

    sb.admin("luca", "POST", "faults", FAST_LUCA)
    svc.add_worker()
    handed_back = {t: wait_handed_back(conn, j, killed[t], RECOVERY_LIMIT_S) for t, j in jobs.items()}
    assert max(handed_back.values()) <= RECOVERY_LIMIT_S, handed_back
    results = {t: svc.wait_job(j, timeout=420)["result"] for t, j in jobs.items()}
    finished_s = round(time.monotonic() - killed_at)

    runs = {t: accounted(svc.history_db, j) for t, j in jobs.items()}
    found = assert_luca_exact(sb, runs["INVOICE"]["failed_items"])
    assert results["PRODUCT"]["adopted"] + results["PRODUCT"]["skipped"] + results["PRODUCT"]["updated"] > 0
    figures.record(
        "SIGKILL all workers mid-run, 1 new worker",
        items=sum(r["items"] for r in runs.values()),
        kills=len(jobs),
        logins=luca_state(sb)["logins"],
        duplicates=found["duplicates"],
        lost=found["lost"],
        seconds=f"{max(handed_back.values()):.0f} to hand back, {finished_s} to finish",
        processed_before_kill=sum(before.values()),
    )
    conn.close()


def test_sigterm_mid_batch_finishes_the_job_then_stops(
    make_sandbox: Callable[..., Sandbox], make_service: Callable[..., Service]
) -> None:
    sb = make_sandbox(*DATA)
    sb.admin("luca", "POST", "faults", SLOW_LUCA)
    svc = make_service(sb, workers=1)
    job_id = svc.start_sync("PRODUCT")
    svc.wait_progress(job_id, processed=15, timeout=120)
    worker = svc.workers[0]
    kill(worker, signal.SIGTERM)  # warm shutdown: the work horse finishes the job first
    assert worker.proc.wait(timeout=300) == 0, worker.tail()
    body = svc.wait_job(job_id, timeout=10)
    assert body["result"]["total"] == body["progress"]["total"]
    assert "warm shut down requested" in worker.tail(200)
    run = accounted(svc.history_db, job_id)
    state = luca_state(sb)
    assert state["stock_cards"]["duplicate_codes"] == []
    codes = [r["kartKodu"] for r in luca_records(sb, "stock_cards")]
    assert sorted(codes) == sorted(expected_card_codes(sb)) and len(codes) == body["result"]["created"]
    figures.record("SIGTERM mid-batch (warm shutdown)", items=run["items"], kills=1, duplicates=0, lost=0)
