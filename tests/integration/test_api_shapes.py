"""Real responses match the models the OpenAPI document is generated from (so it stays true)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from pydantic import BaseModel

from syncsvc.settings import Settings
from syncsvc.web import schemas
from tests.integration.test_service_api import run_queued
from tests.service_fixtures import AUTH, make_app, make_settings


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return make_settings(redis_url, tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[FlaskClient]:
    yield make_app(settings).test_client()


def check(client: FlaskClient, method: str, path: str, status: int, model: type[BaseModel], **kw: object) -> dict:  # type: ignore[type-arg]
    resp = client.open(path, method=method, headers=AUTH, **kw)  # type: ignore[arg-type]
    assert resp.status_code == status, (path, resp.status_code, resp.json)
    model.model_validate(resp.json)  # extra keys are refused: an undocumented field fails here
    return dict(resp.json)


def test_every_route_answers_in_its_documented_shape(
    client: FlaskClient, redis_conn: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = check(client, "POST", "/api/sync/start", 202, schemas.StartResponse, json={"syncType": "PRODUCT"})
    failed = check(client, "POST", "/api/sync/start", 202, schemas.StartResponse, json={"syncType": "CUSTOMER"})
    check(client, "POST", "/api/sync/start", 409, schemas.Error, json={"syncType": "PRODUCT"})
    check(client, "POST", "/api/sync/start", 400, schemas.Error, json={"syncType": "NOPE"})
    queued = check(client, "GET", f"/api/sync/job/{done['jobId']}", 200, schemas.JobStatus)
    assert queued["state"] == "QUEUED" and queued["syncType"] == "PRODUCT"

    run_queued(redis_conn, monkeypatch, settings)
    finished = check(client, "GET", f"/api/sync/job/{done['jobId']}", 200, schemas.JobStatus)
    assert finished["state"] == "FINISHED" and finished["progress"]["phase"] == "done"
    retrying = check(client, "GET", f"/api/sync/job/{failed['jobId']}", 200, schemas.JobStatus)
    assert retrying["state"] == "SCHEDULED"
    check(client, "GET", "/api/sync/job/nope", 404, schemas.Error)

    runs = check(client, "GET", "/api/sync/history?pageSize=5", 200, schemas.RunsPage)
    assert runs["total"] == 1
    check(client, "GET", f"/api/sync/history/{done['jobId']}", 200, schemas.RunDetail)
    items = check(client, "GET", f"/api/sync/history/{done['jobId']}/items?outcome=failed", 200, schemas.ItemsPage)
    assert items["total"] == 1
    failed_key = items["items"][0]["itemKey"]
    check(client, "POST", f"/api/sync/history/{done['jobId']}/retry", 202, schemas.RetryResponse)
    resolved = {"key": failed_key, "reason": "discontinued"}
    check(client, "POST", f"/api/sync/history/{done['jobId']}/resolve", 200, schemas.ResolveResponse, json=resolved)
    check(client, "GET", "/api/sync/history?limit=0", 400, schemas.Error)
    check(client, "GET", "/api/sync/history/nope", 404, schemas.Error)
    check(client, "GET", "/api/cache/status", 200, schemas.CacheStatus)
    check(client, "GET", "/healthz", 200, schemas.Alive)
    ready = client.get("/readyz")
    schemas.Ready.model_validate(ready.json)
