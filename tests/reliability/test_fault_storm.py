"""Issue 5 §1: a fault storm through the real service (gunicorn, two ``rq worker sync``, Redis,
simulators) ends with exactly the expected records in Luca, no duplicates, every item accounted."""

from __future__ import annotations

import time
from collections.abc import Callable

from sandbox.testing import Sandbox
from tests.integration.engine_helpers import katana_list, luca_state
from tests.reliability import figures
from tests.reliability.checks import accounted, assert_luca_exact
from tests.reliability.secrets_scan import leaks
from tests.reliability.stack import Service, delivered_orders
from tests.reliability.storm import STORM_ENV, arm, disarm, session_killer

# >= 1,000 variants and >= 300 delivered orders (the generator delivers at least 60 %).
BIG = ("--products", "320", "--variants-per-product", "3-4", "--customers", "80", "--orders", "520")


def test_fault_storm_through_the_service(
    make_sandbox: Callable[..., Sandbox], make_service: Callable[..., Service]
) -> None:
    sb = make_sandbox(*BIG)
    assert len(katana_list(sb, "variants")) >= 1000
    assert len(delivered_orders(sb)) >= 300
    svc = make_service(sb, workers=2, **STORM_ENV)
    arm(sb)
    began = time.monotonic()
    with session_killer(sb) as kills:
        # All three at once on two workers: INVOICE also ensures the caris and cards it needs,
        # so it races PRODUCT and CUSTOMER over the same records.
        jobs = {t: svc.start_sync(t) for t in ("PRODUCT", "CUSTOMER", "INVOICE")}
        results = {t: svc.wait_job(j, timeout=900)["result"] for t, j in jobs.items()}
    injected = disarm(sb)
    seconds = round(time.monotonic() - began)

    runs = {t: accounted(svc.history_db, j) for t, j in jobs.items()}
    assert runs["CUSTOMER"]["failed_items"] == {}
    found = assert_luca_exact(sb, runs["INVOICE"]["failed_items"])
    assert sum(injected.values()) > 300, injected
    for kind in ("reset", "bad_gateway", "html_login", "session_expiry", "branch_loss", "empty_error", "slow",
                 "commit_then_fail"):  # fmt: skip
        assert injected.get(f"luca:{kind}", 0) > 0, (kind, injected)
    assert injected["katana:429"] + injected["katana:500"] > 0, injected
    for t, r in results.items():
        assert r["total"] == runs[t]["items"]

    # Security (issue 5 §6): no secret anywhere after the full run.
    responses = _collect_responses(svc, list(jobs.values()))
    found_secrets, scanned = leaks(svc, responses)
    assert found_secrets == {}, found_secrets
    assert scanned > 1_000_000  # logs, Redis, AOF and SQLite were really read
    figures.record(
        "fault storm (3 types, 2 workers)",
        items=sum(r["items"] for r in runs.values()),
        faults=sum(injected.values()),
        kills=kills[0],
        logins=luca_state(sb)["logins"],
        duplicates=found["duplicates"],
        lost=found["lost"],
        seconds=seconds,
    )
    figures.record("secret scan after the storm", items=f"{scanned} bytes", duplicates="-", lost="-", leaks=0)


def _collect_responses(svc: Service, job_ids: list[str]) -> list[str]:
    """Everything a user can read back over HTTP about these runs (API and dashboard)."""
    paths = ["/api/sync/history", "/api/cache/status", "/api/openapi.json", "/readyz", "/rq/", "/rq/0/data/queues.json",
             "/rq/0/data/workers.json", "/rq/0/data/jobs/sync/finished/100/asc/1.json"]  # fmt: skip
    for job_id in job_ids:
        paths += [f"/api/sync/job/{job_id}", f"/api/sync/history/{job_id}", f"/rq/0/view/job/{job_id}",
                  f"/rq/0/data/job/{job_id}.json"]  # fmt: skip
        for offset in range(0, 1200, 1000):
            paths.append(f"/api/sync/history/{job_id}/items?limit=1000&offset={offset}")
    bodies = []
    for path in paths:
        resp = svc.http.get(svc.url + path, timeout=30)
        assert resp.status_code < 500, (path, resp.status_code)
        bodies.append(f"{path} {dict(resp.headers)} {resp.text}")
    return bodies
