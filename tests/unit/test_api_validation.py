"""POST /api/sync/start input validation: every bad input is a 400 naming the field, never a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncsvc.web.schemas import BadRequest, RunsQuery, StartRequest, parse_body, parse_query
from tests.redisdb import wipe
from tests.service_fixtures import AUTH, make_app, make_settings

JSON = "application/json"


def parse(body: object, content_type: str = JSON) -> object:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_body(StartRequest, content_type, raw)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"syncType": "product"}, "syncType must be one of PRODUCT, CUSTOMER, INVOICE"),
        ({"syncType": "ORDERS"}, "syncType must be one of PRODUCT, CUSTOMER, INVOICE"),
        ({"syncType": 1}, "syncType must be one of"),
        ({}, "syncType is required; allowed values: PRODUCT, CUSTOMER, INVOICE"),
        ({"syncType": "PRODUCT", "limit": 0}, "limit must be a positive integer"),
        ({"syncType": "PRODUCT", "limit": -5}, "limit must be a positive integer"),
        ({"syncType": "PRODUCT", "limit": 2.5}, "limit must be a positive integer"),
        ({"syncType": "PRODUCT", "limit": "10"}, "limit must be a positive integer"),
        ({"syncType": "PRODUCT", "limit": True}, "limit must be a positive integer"),
        ({"syncType": "PRODUCT", "dryRun": "yes"}, "dryRun must be true or false"),
        ({"syncType": "PRODUCT", "dryRun": 1}, "dryRun must be true or false"),
        ({"syncType": "PRODUCT", "dryRun": None}, "dryRun must be true or false"),
        (
            {"syncType": "PRODUCT", "since": "2024"},
            "unknown field(s) since; allowed fields: syncType, limit, dryRun, mode, keys",
        ),
        ([{"syncType": "PRODUCT"}], "body must be a JSON object"),
        ("PRODUCT", "body must be a JSON object"),
    ],
)
def test_rejections_name_the_field_and_allowed_values(body: object, needle: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse(body)
    assert needle in str(info.value)


@pytest.mark.parametrize("raw", [b"{", b"{'syncType': 'PRODUCT'}", b"NaN]", b"", b"   "])
def test_malformed_or_empty_json(raw: bytes) -> None:
    with pytest.raises(BadRequest, match="JSON"):
        parse_body(StartRequest, JSON, raw)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_content_type_must_be_json(content_type: str | None) -> None:
    with pytest.raises(BadRequest, match="Content-Type must be application/json"):
        parse_body(StartRequest, content_type, b'{"syncType": "PRODUCT"}')


def test_valid_bodies() -> None:
    req = parse({"syncType": "INVOICE", "limit": 10, "dryRun": True}, "application/json; charset=utf-8")
    assert (req.sync_type, req.limit, req.dry_run) == ("INVOICE", 10, True)  # type: ignore[attr-defined]
    req = parse({"syncType": "PRODUCT", "limit": None})
    assert (req.limit, req.dry_run) == (None, False)  # type: ignore[attr-defined]


def parse_paging(args: dict[str, str]) -> tuple[int, int]:
    return parse_query(RunsQuery, args).window()


def test_paging_forms() -> None:
    assert parse_paging({}) == (50, 0)
    assert parse_paging({"limit": "5", "offset": "10"}) == (5, 10)
    assert parse_paging({"page": "3", "pageSize": "20"}) == (20, 40)
    for bad in ({"limit": "0"}, {"limit": "x"}, {"offset": "-1"}, {"page": "0"}, {"pageSize": "100000"}):
        with pytest.raises(BadRequest):
            parse_paging(bad)


@pytest.fixture
def client(redis_url: str, tmp_path: Path) -> Iterator[FlaskClient]:
    app = make_app(make_settings(redis_url, tmp_path))
    yield app.test_client()


def test_bad_start_is_400_json_and_enqueues_nothing(client: FlaskClient, redis_conn: redis.Redis) -> None:
    resp = client.post("/api/sync/start", json={"syncType": "NOPE"}, headers=AUTH)
    assert resp.status_code == 400
    assert resp.json == {
        "success": False,
        "error": 'syncType must be one of PRODUCT, CUSTOMER, INVOICE, got "NOPE"',
    }
    resp = client.post("/api/sync/start", data="{oops", content_type=JSON, headers=AUTH)
    assert resp.status_code == 400 and resp.json["success"] is False
    resp = client.post("/api/sync/start", data="syncType=PRODUCT", headers=AUTH)
    assert resp.status_code == 400 and "Content-Type" in resp.json["error"]
    assert redis_conn.llen("rq:queue:svctest") == 0


def test_huge_body_is_413_json(client: FlaskClient) -> None:
    body = json.dumps({"syncType": "PRODUCT", "pad": "x" * 100_000})
    resp = client.post("/api/sync/start", data=body, content_type=JSON, headers=AUTH)
    assert resp.status_code == 413
    assert resp.json["success"] is False and "too large" in resp.json["error"]


def test_unknown_route_and_method_are_json(client: FlaskClient) -> None:
    resp = client.get("/api/nope", headers=AUTH)
    assert resp.status_code == 404 and resp.json["success"] is False
    resp = client.get("/api/sync/start", headers=AUTH)
    assert resp.status_code == 405 and resp.json["success"] is False
    assert "POST" in resp.headers["Allow"]


def test_history_filters_are_validated(client: FlaskClient) -> None:
    resp = client.get("/api/sync/history?type=ORDERS", headers=AUTH)
    assert resp.status_code == 400 and "type must be one of PRODUCT, CUSTOMER, INVOICE" in resp.json["error"]
    resp = client.get("/api/sync/history?status=done", headers=AUTH)
    assert resp.status_code == 400 and "running, retrying, finished, failed, skipped" in resp.json["error"]
    resp = client.get("/api/sync/history/x/items?outcome=weird", headers=AUTH)
    assert resp.status_code == 400 and "created, updated, adopted, skipped, gone, failed" in resp.json["error"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
bodies = st.dictionaries(
    st.sampled_from(["syncType", "limit", "dryRun", "extra"]),
    st.sampled_from(["PRODUCT", "CUSTOMER", "x"]) | json_values,
    max_size=4,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies | json_values)
def test_no_input_gets_a_5xx(client: FlaskClient, redis_conn: redis.Redis, body: object) -> None:
    wipe(redis_conn)
    resp = client.post("/api/sync/start", data=json.dumps(body), content_type=JSON, headers=AUTH)
    assert resp.status_code in (202, 400, 409), resp.json
    assert resp.is_json


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=64))
def test_no_bytes_get_a_5xx(client: FlaskClient, raw: bytes) -> None:
    resp = client.post("/api/sync/start", data=raw, content_type=JSON, headers=AUTH)
    assert resp.status_code in (202, 400, 409)
