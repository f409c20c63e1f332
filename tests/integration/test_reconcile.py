"""Reconciliation against the simulators, in-process: after full syncs every type is in step; a
cari and an invoice deleted in Luca are then found missing (with the Katana record to re-read),
the deleted cari's cache entry is reported stale, and the fix queues a targeted sync of them."""

from __future__ import annotations

from pathlib import Path

import redis
from rq.job import Job

from jobs.reconcile import queue_fix, reconcile
from sandbox.testing import Sandbox
from syncsvc.store.serializer import PlainPickleSerializer
from tests.integration.engine_helpers import engine_settings, run


def test_in_step_after_a_sync_then_deletions_in_luca_are_found_and_fixable(
    sandbox: Sandbox, redis_url: str, tmp_path: Path
) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path)
    conn = redis.Redis.from_url(redis_url)
    for sync_type in ("PRODUCT", "CUSTOMER", "INVOICE"):
        run(settings, sync_type)
    for sync_type in ("PRODUCT", "CUSTOMER", "INVOICE"):
        counts = reconcile(sync_type, settings, conn)["counts"]
        assert counts["missingInLuca"] == counts["drifted"] == counts["staleCache"] == 0, (sync_type, counts)
        assert counts["katana"] > 0 and counts["luca"] > 0

    invoice = sandbox.admin("luca", "GET", "invoices")["records"][0]
    sandbox.admin("luca", "DELETE", f"invoices/{invoice['ssFaturaBaslikId']}")
    billed = {i.get("cariKodu") for i in sandbox.admin("luca", "GET", "invoices")["records"]}
    cari = next(c for c in sandbox.admin("luca", "GET", "customers")["records"] if c["kartKod"] not in billed)
    sandbox.admin("luca", "DELETE", f"customers/{cari['finansalNesneId']}")

    customers = reconcile("CUSTOMER", settings, conn)
    assert [m["key"] for m in customers["missingInLuca"]] == [cari["kartKod"]]
    assert [s["key"] for s in customers["staleCache"]] == [cari["kartKod"]]
    assert customers["fixKeys"] == [customers["missingInLuca"][0]["ref"]]
    assert customers["fixKeys"][0].startswith("customer:")
    invoices = reconcile("INVOICE", settings, conn)
    assert [m["key"] for m in invoices["missingInLuca"]] == [invoice["belgeTakipNo"]]
    assert invoices["fixKeys"][0].startswith("order:")

    job_id, request = queue_fix(conn, settings, invoices, "api")
    job = Job.fetch(job_id, connection=conn, serializer=PlainPickleSerializer)
    assert request.keys == tuple(invoices["fixKeys"]) and job.args[0]["keys"] == invoices["fixKeys"]
    conn.close()
