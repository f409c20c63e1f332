"""Issue 5 §2: workers SIGKILLed mid-run (every sync type) and a graceful SIGTERM mid-batch.

How the abandoned jobs come back is RQ's own mechanism, not a test shortcut: the killed worker's
execution entry in ``rq:wip:sync`` expires 60 s + one job-monitoring interval after its last
heartbeat; the next maintenance pass of a live worker (``StartedJobRegistry.cleanup``) then calls
``job.retry()`` because the job was enqueued with ``Retry(max=2, interval=[30, 120])``, and that
worker's scheduler (which takes over the dead worker's scheduler lock once it expires) re-queues
it 30 s later. The suite only shortens the two intervals RQ exposes on its CLI
(``--job-monitoring-interval 5 --maintenance-interval 5``; production: 30 s and 10 min).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest
import redis
from rq.job import Job

from sandbox.testing import Sandbox
from syncsvc.store.serializer import PlainPickleSerializer
from tests.integration.engine_helpers import expected_card_codes, luca_records, luca_state
from tests.reliability import figures
from tests.reliability.checks import accounted, assert_luca_exact
from tests.reliability.stack import Service, kill

DATA = ("--products", "150", "--variants-per-product", "2-3", "--customers", "120", "--orders", "160")
# Slow enough that every run is mid-flight when the workers die.
SLOW_LUCA = {"latency_ms": 200, "jitter_ms": 50, "faults": {}}
TYPES = ("PRODUCT", "CUSTOMER", "INVOICE")
pytestmark = pytest.mark.timeout(900)


def test_sigkilled_workers_jobs_are_retried_to_the_exact_result(
    make_sandbox: Callable[..., Sandbox], make_service: Callable[..., Service]
) -> None:
    sb = make_sandbox(*DATA)
    sb.admin("luca", "POST", "faults", SLOW_LUCA)
    svc = make_service(sb, workers=3)
    jobs = {t: svc.start_sync(t) for t in TYPES}
    for job_id in jobs.values():
        svc.wait_job(job_id, lambda b: b["state"] == "STARTED" and (b["progress"] or {}).get("processed", 0) >= 5)
    before = {t: svc.job(j)["progress"]["processed"] for t, j in jobs.items()}
    killed_at = time.monotonic()
    for worker in svc.workers:
        kill(worker, signal.SIGKILL)
        worker.proc.wait(timeout=10)

    # Nobody runs them now, and the claims still hold: a new start is refused, not duplicated.
    for t, job_id in jobs.items():
        body = svc.job(job_id)
        assert body["state"] == "STARTED" and body["progress"]["processed"] < body["progress"]["total"], body
        again = svc.http.post(f"{svc.url}/api/sync/start", json={"syncType": t}, timeout=10)
        assert again.status_code == 409 and again.json()["jobId"] == job_id

    sb.admin("luca", "POST", "faults", {"latency_ms": 10, "jitter_ms": 5, "faults": {}})
    svc.add_worker()
    results = {t: svc.wait_job(j, timeout=420)["result"] for t, j in jobs.items()}
    recovered_s = round(time.monotonic() - killed_at)

    conn = redis.Redis.from_url(svc.redis.url)
    try:
        for job_id in jobs.values():
            job = Job.fetch(job_id, connection=conn, serializer=PlainPickleSerializer)
            assert job.retries_left == 1  # one of the two retries was spent on the abandoned run
    finally:
        conn.close()
    runs = {t: accounted(svc.history_db, j) for t, j in jobs.items()}
    found = assert_luca_exact(sb, runs["INVOICE"]["failed_items"])
    # The retry found what the killed attempt had written instead of writing it again.
    assert results["PRODUCT"]["adopted"] + results["PRODUCT"]["skipped"] + results["PRODUCT"]["updated"] > 0
    figures.record(
        "SIGKILL all workers mid-run, 1 new worker",
        items=sum(r["items"] for r in runs.values()),
        kills=len(jobs),
        logins=luca_state(sb)["logins"],
        duplicates=found["duplicates"],
        lost=found["lost"],
        seconds=recovered_s,
        processed_before_kill=sum(before.values()),
    )


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
