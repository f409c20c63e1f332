"""The reconciliation routes without a worker: validation, unknown ids, a fix before the report."""

from __future__ import annotations

from pathlib import Path

from rq.job import Job

from jobs.reconcile import RECONCILE_FUNCTION
from syncsvc.store.serializer import PlainPickleSerializer
from tests.service_fixtures import AUTH, make_app, make_settings


def test_reconcile_routes_validate_and_queue_one_job(redis_url: str, tmp_path: Path) -> None:
    app = make_app(make_settings(redis_url, tmp_path))
    client = app.test_client()
    for body in ({}, {"syncType": "NOPE"}, []):
        resp = client.post("/api/reconcile", json=body, headers=AUTH)
        assert resp.status_code == 400 and "syncType" in resp.json["error"]
    assert client.post("/api/reconcile", json={"syncType": "PRODUCT"}).status_code == 401
    started = client.post("/api/reconcile", json={"syncType": "PRODUCT"}, headers=AUTH)
    assert started.status_code == 202
    rid = started.json["reconcileId"]
    job = Job.fetch(rid, connection=app.extensions["syncsvc"].redis, serializer=PlainPickleSerializer)
    assert job.func_name == RECONCILE_FUNCTION and list(job.args) == [{"syncType": "PRODUCT"}]
    shown = client.get(f"/api/reconcile/{rid}", headers=AUTH).json
    assert shown["state"] == "QUEUED" and shown["result"] is None and shown["syncType"] == "PRODUCT"
    early = client.post(f"/api/reconcile/{rid}/fix", headers=AUTH)
    assert early.status_code == 409 and "not finished" in early.json["error"]
    assert client.get("/api/reconcile/unknown", headers=AUTH).status_code == 404
    assert client.get("/api/reconcile/<script>", headers=AUTH).status_code == 404
    # A sync job's id is not a reconciliation.
    sync_id = client.post("/api/sync/start", json={"syncType": "CUSTOMER"}, headers=AUTH).json["jobId"]
    assert client.get(f"/api/reconcile/{sync_id}", headers=AUTH).status_code == 404
    app.extensions["syncsvc"].close()
