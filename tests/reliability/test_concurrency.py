"""Issue 5 §4: simultaneous starts over HTTP, two workers running the three sync types at once,
and one Luca session shared by every thread of every worker (no login storms)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import requests

from sandbox.testing import Sandbox
from tests.integration.engine_helpers import luca_state
from tests.reliability import figures
from tests.reliability.checks import accounted, assert_luca_exact
from tests.reliability.stack import Service
from tests.reliability.storm import session_killer

DATA = ("--products", "150", "--variants-per-product", "2-3", "--customers", "80", "--orders", "160")
pytestmark = pytest.mark.timeout(900)


def _start_at_once(svc: Service, sync_type: str, n: int) -> list[requests.Response]:
    barrier = threading.Barrier(n)
    answers: list[requests.Response] = []

    def go() -> None:
        with requests.Session() as http:  # separate connections: gunicorn may serve them in parallel
            http.headers.update(svc.http.headers)
            barrier.wait()
            answers.append(http.post(f"{svc.url}/api/sync/start", json={"syncType": sync_type}, timeout=10))

    threads = [threading.Thread(target=go) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_parallel_types_on_two_workers_share_one_luca_session(
    make_sandbox: Callable[..., Sandbox], make_service: Callable[..., Service]
) -> None:
    sb = make_sandbox(*DATA)
    # One session per user (a new login evicts the old one), some latency so the runs overlap.
    sb.admin("luca", "POST", "faults", {"latency_ms": 100, "jitter_ms": 20, "single_session_per_user": True})
    svc = make_service(sb, workers=2, WEB_CONCURRENCY=2)  # two gunicorn processes answer the starts

    jobs: dict[str, str] = {}
    for sync_type in ("PRODUCT", "CUSTOMER", "INVOICE"):
        answers = _start_at_once(svc, sync_type, 2)
        codes = sorted(a.status_code for a in answers)
        assert codes == [202, 409], [a.text for a in answers]
        winner, loser = sorted(answers, key=lambda a: a.status_code)
        assert loser.json()["jobId"] == winner.json()["jobId"]
        jobs[sync_type] = winner.json()["jobId"]

    with session_killer(sb, every_s=1.5) as kills:
        results = {t: svc.wait_job(j, timeout=600)["result"] for t, j in jobs.items()}
    runs = {t: accounted(svc.history_db, j) for t, j in jobs.items()}
    found = assert_luca_exact(sb, runs["INVOICE"]["failed_items"])
    state = luca_state(sb)
    # One login to start, then one per killed session, shared by 2 workers x 5 threads; a kill that
    # lands during a login costs one more. A login per thread would be ~10 per kill.
    assert state["logins"] <= 2 * kills[0] + 1, (state["logins"], kills[0])
    assert state["max_concurrency"] >= 2  # the runs really overlapped
    figures.record(
        "3 types in parallel, 2 workers, sessions killed",
        items=sum(r["total"] for r in results.values()),
        kills=kills[0],
        logins=state["logins"],
        duplicates=found["duplicates"],
        lost=found["lost"],
    )
