"""The API against a real Redis and SQLite: start, 409 and its claim, job view, history, caches, health."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import SimpleWorker
from rq.job import Job

from jobs.enqueue import claim_key, sync_queue
from syncsvc.domain.model import ItemRecord
from syncsvc.settings import Settings
from syncsvc.store.history import open_history
from syncsvc.store.serializer import PlainPickleSerializer
from syncsvc.store.serializer import loads as plain_loads
from tests.redisdb import wipe
from tests.service_fixtures import AUTH, TOKEN, make_app, make_settings


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return make_settings(redis_url, tmp_path)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    yield make_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def start(client: FlaskClient, **body: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    resp = client.post("/api/sync/start", json=body, headers=AUTH)
    return resp.status_code, resp.json


def run_queued(redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("SYNC_HISTORY_DB", settings.history_db)
    worker = SimpleWorker([sync_queue(redis_conn, settings)], connection=redis_conn, serializer=PlainPickleSerializer)
    worker.work(burst=True)


def test_start_says_which_mode_runs(client: FlaskClient, redis_conn: redis.Redis, settings: Settings) -> None:
    from jobs.enqueue import sync_queue as queue_of
    from syncsvc.store.cursors import Cursors, parse

    Cursors(redis_conn, settings.key_prefix).advance("CUSTOMER", parse("2026-01-01T00:00:00.000Z"))  # type: ignore[arg-type]
    status, body = start(client, syncType="CUSTOMER")
    assert status == 202 and body["mode"] == "incremental"
    job = queue_of(redis_conn, settings).fetch_job(body["jobId"])
    assert job is not None and job.args[0]["mode"] == "incremental"
    assert job.description == "CUSTOMER sync (incremental)"
    queue_of(redis_conn, settings).empty()
    redis_conn.delete(f"{settings.key_prefix}:claim:CUSTOMER")
    status, body = start(client, syncType="CUSTOMER", mode="full")
    assert status == 202 and body["mode"] == "full"
    status, body = start(client, syncType="PRODUCT", mode="drain")
    assert status == 400 and "mode must be one of full, incremental" in body["error"]


def test_start_answers_202_and_enqueues_with_our_options(
    client: FlaskClient, redis_conn: redis.Redis, settings: Settings
) -> None:
    status, body = start(client, syncType="PRODUCT", limit=25, dryRun=True)
    assert status == 202
    job_id = body["jobId"]
    assert body == {
        "success": True,
        "message": "Sync job queued successfully: PRODUCT",
        "jobId": job_id,
        "syncType": "PRODUCT",
        "syncMode": "async",
        "dryRun": True,
        "limit": 25,
        "mode": "full",  # no cursor yet
        # No SYNC_PUBLIC_URL: links start where the request came in (the test client's host).
        "dashboardUrl": f"http://localhost/rq/0/view/job/{job_id}",
        "statusUrl": f"http://localhost/api/sync/job/{job_id}",
    }
    # The id names the deployment (RQ's job hashes of every deployment share rq:job:<id>).
    instance, _, fresh = job_id.rpartition("-")
    assert instance == settings.instance and len(fresh) == 32 and int(fresh, 16) >= 0
    job = Job.fetch(job_id, connection=redis_conn, serializer=PlainPickleSerializer)
    assert job.origin == settings.queue_name == "svctest"
    assert job.func_name == "tests.e2e.fake_jobs.fake_job"
    # The request travels once, as the job's only argument; meta is left for progress.
    assert job.args == (
        {"syncType": "PRODUCT", "limit": 25, "dryRun": True, "trigger": "api", "mode": "full", "keys": None},
    )
    assert job.kwargs == {}
    assert job.timeout == settings.job_timeout_s
    assert job.result_ttl == 86400 and job.failure_ttl == 7 * 86400
    assert job.retries_left == 2 and job.retry_intervals == [30, 120]
    assert job.meta == {}
    assert job.description == "PRODUCT sync (dry run)"
    # RQ's default format on the wire (zlib-compressed pickle), holding plain values only.
    raw = zlib.decompress(redis_conn.hget(f"rq:job:{job_id}", "data"))  # type: ignore[arg-type]
    assert plain_loads(raw)[:2] == ("tests.e2e.fake_jobs.fake_job", None)
    assert redis_conn.get(claim_key(settings, "PRODUCT")) == job_id.encode()
    assert redis_conn.pttl(claim_key(settings, "PRODUCT")) == -1  # confirmed: no grace TTL left


def test_second_start_of_same_type_is_409_with_that_job(client: FlaskClient) -> None:
    _, first = start(client, syncType="CUSTOMER")
    status, body = start(client, syncType="CUSTOMER", limit=3)
    assert status == 409
    assert body["success"] is False and body["jobId"] == first["jobId"]
    assert "already queued or running" in body["error"]
    # Other types are independent.
    assert start(client, syncType="INVOICE")[0] == 202


def test_claim_is_released_when_the_job_ends(
    client: FlaskClient, redis_conn: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, first = start(client, syncType="PRODUCT", limit=3)
    run_queued(redis_conn, monkeypatch, settings)
    status, second = start(client, syncType="PRODUCT")
    assert status == 202 and second["jobId"] != first["jobId"]


def test_claim_is_stale_when_the_job_was_deleted(client: FlaskClient, redis_conn: redis.Redis) -> None:
    _, first = start(client, syncType="PRODUCT")
    Job.fetch(first["jobId"], connection=redis_conn, serializer=PlainPickleSerializer).delete()
    assert start(client, syncType="PRODUCT")[0] == 202


def test_claim_in_its_enqueue_grace_period_still_blocks(
    client: FlaskClient, redis_conn: redis.Redis, settings: Settings
) -> None:
    # Another API process claimed but has not enqueued yet (no job hash, grace TTL set).
    redis_conn.set(claim_key(settings, "INVOICE"), "pending-job", px=30_000)
    status, body = start(client, syncType="INVOICE")
    assert status == 409 and body["jobId"] == "pending-job"
    # Without the TTL (confirmed claim whose job vanished) it is stale.
    redis_conn.persist(claim_key(settings, "INVOICE"))
    assert start(client, syncType="INVOICE")[0] == 202


def test_simultaneous_starts_give_exactly_one_202(app: Flask, redis_conn: redis.Redis) -> None:
    for _ in range(5):
        wipe(redis_conn)
        barrier = threading.Barrier(8)
        results: list[tuple[int, str]] = []

        def go(barrier: threading.Barrier = barrier, results: list[tuple[int, str]] = results) -> None:
            client = app.test_client()
            barrier.wait()
            resp = client.post("/api/sync/start", json={"syncType": "PRODUCT"}, headers=AUTH)
            results.append((resp.status_code, resp.json["jobId"]))

        threads = [threading.Thread(target=go) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        codes = sorted(code for code, _ in results)
        assert codes == [202] + [409] * 7
        assert len({job_id for _, job_id in results}) == 1
        assert redis_conn.llen("rq:queue:svctest") == 1


def test_job_view_after_a_run(
    client: FlaskClient, redis_conn: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, body = start(client, syncType="PRODUCT", limit=5)
    queued = client.get(f"/api/sync/job/{body['jobId']}", headers=AUTH).json
    assert queued["state"] == "QUEUED" and queued["progress"] is None and queued["result"] is None
    assert [h["stateName"] for h in queued["history"]] == ["QUEUED"]
    run_queued(redis_conn, monkeypatch, settings)
    view = client.get(f"/api/sync/job/{body['jobId']}", headers=AUTH).json
    assert view["state"] == "FINISHED"
    assert view["job"] == "tests.e2e.fake_jobs.fake_job"
    assert view["progress"]["phase"] == "done" and view["progress"]["processed"] == 5
    assert view["result"]["total"] == 5 and view["result"]["failed"] == 1
    assert view["result"]["failures"] == [{"key": "SKU-4", "errorClass": "BusinessError", "message": "Birim yok"}]
    assert view["error"] is None
    names = [h["stateName"] for h in view["history"]]
    assert names == ["QUEUED", "STARTED", "FINISHED"]
    stamps = [h["createdAt"] for h in view["history"]]
    assert stamps == sorted(stamps) and all(stamps)


def test_failed_job_shows_the_last_line_only(
    client: FlaskClient, redis_conn: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, body = start(client, syncType="CUSTOMER")
    job = Job.fetch(body["jobId"], connection=redis_conn, serializer=PlainPickleSerializer)
    job.retries_left = 0  # no retries: fail terminally in one pass
    job.save()
    run_queued(redis_conn, monkeypatch, settings)
    view = client.get(f"/api/sync/job/{body['jobId']}", headers=AUTH).json
    assert view["state"] == "FAILED"
    assert view["error"] == "syncsvc.domain.errors.Unavailable: Katana answered HTTP 500 three times on /v1/products"
    assert [h["stateName"] for h in view["history"]] == ["QUEUED", "STARTED", "FAILED"]
    assert start(client, syncType="CUSTOMER")[0] == 202  # a failed job frees its type


def test_failed_attempt_with_retries_left_is_scheduled(
    client: FlaskClient, redis_conn: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, body = start(client, syncType="CUSTOMER")
    run_queued(redis_conn, monkeypatch, settings)
    view = client.get(f"/api/sync/job/{body['jobId']}", headers=AUTH).json
    assert view["state"] == "SCHEDULED" and view["retriesLeft"] == 1
    assert [h["stateName"] for h in view["history"]] == [
        "QUEUED",
        "STARTED",
        "FAILED_WILL_RETRY",
        "SCHEDULED",
    ]
    assert view["history"][-1]["createdAt"] is None  # nobody timestamped it; not invented
    assert start(client, syncType="CUSTOMER")[0] == 409  # still this type's run


def test_unknown_job_is_404(client: FlaskClient) -> None:
    for job_id in ("0" * 32, "bad:id", "x" * 300):
        resp = client.get(f"/api/sync/job/{job_id}", headers=AUTH)
        assert resp.status_code == 404 and resp.json["success"] is False


def seed_history(path: str) -> None:
    hist = open_history(path)
    for i, (sync_type, status) in enumerate([("PRODUCT", "finished"), ("CUSTOMER", "failed"), ("PRODUCT", "running")]):
        run_id = f"run{i}"
        hist.start_run(run_id, sync_type, {"limit": None}, dry_run=False)
        time.sleep(0.002)  # distinct started_at for a stable order
        if status != "running":
            hist.finish_run(
                run_id,
                status,
                {"total": 3, "created": 2, "failed": 1},
                error="boom" if status == "failed" else None,
            )
    hist.record_items(
        "run0",
        [
            ItemRecord("A", "created", luca_id=1),
            ItemRecord("B", "created", luca_id=2),
            ItemRecord("C", "failed", error_class="BusinessError", message="Birim yok"),
        ],  # fmt: skip
    )
    hist.close()


def test_history_routes(client: FlaskClient, settings: Settings) -> None:
    seed_history(settings.history_db)
    page = client.get("/api/sync/history", headers=AUTH).json
    assert page["total"] == 3 and [r["runId"] for r in page["runs"]] == ["run2", "run1", "run0"]
    assert set(page["runs"][0]) >= {"runId", "syncType", "status", "startedAt", "dryRun", "total", "failed"}
    page = client.get("/api/sync/history?type=PRODUCT&status=finished", headers=AUTH).json
    assert page["total"] == 1 and page["runs"][0]["runId"] == "run0"
    page = client.get("/api/sync/history?page=2&pageSize=2", headers=AUTH).json
    assert page["total"] == 3 and [r["runId"] for r in page["runs"]] == ["run0"] and page["offset"] == 2
    run = client.get("/api/sync/history/run0", headers=AUTH).json
    assert run["status"] == "finished" and run["outcomeCounts"] == {"created": 2, "failed": 1}
    items = client.get("/api/sync/history/run0/items?outcome=failed", headers=AUTH).json
    assert items["total"] == 1
    assert items["items"][0]["itemKey"] == "C" and items["items"][0]["errorClass"] == "BusinessError"
    items = client.get("/api/sync/history/run0/items?limit=2&offset=2", headers=AUTH).json
    assert items["total"] == 3 and [i["itemKey"] for i in items["items"]] == ["C"]
    assert client.get("/api/sync/history/nope", headers=AUTH).status_code == 404
    assert client.get("/api/sync/history/nope/items", headers=AUTH).status_code == 404


def test_cache_status_reads_the_engine_hashes(client: FlaskClient, redis_conn: redis.Redis) -> None:
    redis_conn.hset("svctest:luca:stockcard", mapping={f"SKU{i}": i for i in range(1234)})
    redis_conn.hset("svctest:luca:stockcard:meta", mapping={"warmed_at": "2026-11-28T10:00:00Z", "count": 1234})
    redis_conn.hset("svctest:luca:customer:meta", mapping={"warmed_at": "2026-11-28T10:00:00Z", "count": 0})
    body = client.get("/api/cache/status", headers=AUTH).json
    assert body["stockCards"] == {
        "entries": 1234,
        "warmedAt": "2026-11-28T10:00:00Z",
        "warmedCount": 1234,
        "healthy": True,
        "message": "Healthy: 1234 entries cached",
    }
    assert body["customers"]["healthy"] is False and body["customers"]["entries"] == 0
    assert body["invoices"]["healthy"] is False and body["invoices"]["warmedAt"] is None


def test_redis_down_is_a_quick_503_without_the_password(tmp_path: Path) -> None:
    url = "redis://:hunter2secret@127.0.0.1:9/0"
    app = make_app(make_settings(url, tmp_path))
    client = app.test_client()
    began = time.monotonic()
    for method, path, kwargs in (
        ("POST", "/api/sync/start", {"json": {"syncType": "PRODUCT"}}),
        ("GET", "/api/sync/job/abc", {}),
        ("GET", "/api/cache/status", {}),
        ("GET", "/rq/0/data/queues.json", {}),
    ):
        resp = client.open(path, method=method, headers=AUTH, **kwargs)
        assert resp.status_code == 503, (path, resp.json)
        assert resp.json["error"].startswith("Redis is unavailable at redis://:***@127.0.0.1:9/0")
        assert "hunter2secret" not in resp.get_data(as_text=True)
    assert time.monotonic() - began < 5
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["checks"]["redis"]["ok"] is False
    assert "hunter2secret" not in ready.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200


def test_dashboard_pages_render_with_json_jobs(client: FlaskClient) -> None:
    _, body = start(client, syncType="PRODUCT")
    overview = client.get("/rq/", headers=AUTH)
    assert overview.status_code == 200 and b"<html" in overview.data.lower()
    page = client.get(f"/rq/0/view/job/{body['jobId']}", headers=AUTH)
    assert page.status_code == 200 and body["jobId"].encode() in page.data
    data = client.get(f"/rq/0/data/job/{body['jobId']}.json", headers=AUTH).json
    assert data["status"] == "queued" and data["description"] == "PRODUCT sync"
    jobs = client.get("/rq/0/data/jobs/svctest/queued/8/asc/1.json", headers=AUTH)
    assert jobs.status_code == 200 and jobs.json["jobs"][0]["id"] == body["jobId"]
    assert client.get("/rq/0/view/job/" + "0" * 32, headers=AUTH).status_code == 404


def test_secrets_never_reach_responses_or_job_payloads(
    client: FlaskClient, redis_conn: redis.Redis, settings: Settings
) -> None:
    _, body = start(client, syncType="PRODUCT")
    seen = [client.get(f"/api/sync/job/{body['jobId']}", headers=AUTH).get_data(as_text=True)]
    seen.append(client.get("/api/openapi.json", headers=AUTH).get_data(as_text=True))
    seen.append(client.get("/readyz").get_data(as_text=True))
    seen.append(str({k: v for k, v in redis_conn.hgetall(f"rq:job:{body['jobId']}").items()}))
    for secret in (settings.luca_password, settings.katana_api_key, TOKEN):
        assert all(secret not in text for text in seen), secret
