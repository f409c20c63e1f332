"""Retry of a run's failed items as a linked run of just those keys, and resolve, over the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from rq.job import Job

from syncsvc.domain.model import ItemRecord
from syncsvc.settings import Settings
from syncsvc.store.history import History, open_history
from syncsvc.store.retryset import Failure, RetrySet
from syncsvc.store.serializer import PlainPickleSerializer
from tests.service_fixtures import AUTH, make_app, make_settings


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return make_settings(redis_url, tmp_path)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = make_app(settings)
    yield app
    app.extensions["syncsvc"].close()


def failed(key: str, message: str, katana_id: int | None = None, at: str = "2026-01-01T00:00:01Z") -> ItemRecord:
    return ItemRecord(key, "failed", kind="stock_card", error_class="MappingError", message=message,
                      finished_at=at, katana_id=katana_id)  # fmt: skip


def a_run(history: History, run_id: str, items: list[ItemRecord], sync_type: str = "PRODUCT") -> None:
    history.start_run(run_id, sync_type, {}, False)
    history.record_items(run_id, items)
    history.finish_run(run_id, "finished", {"total": len(items)})


def test_retry_api_queues_a_linked_run_of_the_failed_keys(app: Flask, settings: Settings, redis_url: str) -> None:
    hist = open_history(settings)
    a_run(hist, "parent1", [failed("variant:7", "variant has no SKU", 7), failed("variant:8", "no SKU", 8)])
    client = app.test_client()
    resp = client.post("/api/sync/history/parent1/retry", headers=AUTH)
    assert resp.status_code == 202, resp.json
    body = resp.json
    assert body["parentRunId"] == "parent1" and body["keys"] == ["variant:7", "variant:8"]
    assert body["statusUrl"] == f"http://localhost/api/sync/job/{body['jobId']}"  # links from the request
    job = Job.fetch(body["jobId"], connection=app.extensions["syncsvc"].redis, serializer=PlainPickleSerializer)
    request = job.args[0]
    assert request["keys"] == ["variant:7", "variant:8"] and request["parentRunId"] == "parent1"
    assert request["trigger"] == "retry" and request["syncType"] == "PRODUCT" and request["dryRun"] is False
    again = client.post("/api/sync/history/parent1/retry", headers=AUTH)
    assert again.status_code == 409  # one run per type at a time
    assert client.post("/api/sync/history/nope/retry", headers=AUTH).status_code == 404
    hist.close()


def test_resolve_api_validates_and_takes_the_item_out_of_retries(app: Flask, settings: Settings) -> None:
    hist = open_history(settings)
    a_run(hist, "r1", [failed("variant:7", "variant has no SKU", 7)])
    client = app.test_client()
    url = "/api/sync/history/r1/resolve"
    assert client.post(url, json={"key": "variant:7"}, headers=AUTH).status_code == 400
    assert client.post(url, json={"key": "variant:99", "reason": "x"}, headers=AUTH).status_code == 404
    retry_set = RetrySet(app.extensions["syncsvc"].redis, settings.key_prefix, "PRODUCT")
    retry_set.add({"variant:7": Failure("variant:7", "variant:7", "r1", "MappingError", "variant has no SKU")})
    ok = client.post(url, json={"key": "variant:7", "reason": "made by hand in Luca"}, headers=AUTH)
    assert ok.status_code == 200 and ok.json["resolution"]["reason"] == "made by hand in Luca"
    assert retry_set.get("variant:7") is None  # later runs stop fetching it
    assert retry_set.resolved()["variant:7"]["reason"] == "made by hand in Luca"
    nothing = client.post("/api/sync/history/r1/retry", headers=AUTH)
    assert nothing.status_code == 409 and "no failed items" in nothing.json["error"]
    hist.close()
