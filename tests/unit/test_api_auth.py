"""Auth on /api and on every rq-dashboard route (enumerated from the app's url_map)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from werkzeug.routing import Rule

from syncsvc.web.auth import WEBHOOK_PATHS
from tests.service_fixtures import AUTH, TOKEN, make_app, make_settings

SAMPLE = {
    "job_id": "abc",
    "queue_name": "svctest",  # the test deployment's queue (make_settings)
    "registry_name": "failed",
    "instance_number": "0",
    "per_page": "8",
    "order": "asc",
    "page": "1",
    "filename": "css/main.css",
    "run_id": "r1",
}


def concrete(rule: Rule) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: SAMPLE.get(m.group(1), "x"), rule.rule)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def app(redis_url: str, tmp_path: Path) -> Iterator[Flask]:
    yield make_app(make_settings(redis_url, tmp_path))


def protected_calls(app: Flask, prefix: str) -> list[tuple[str, str]]:
    calls = []
    for rule in app.url_map.iter_rules():
        # Katana's webhook is authenticated by its HMAC signature (tests/integration/test_webhooks.py).
        if rule.rule.startswith(prefix) and rule.rule not in WEBHOOK_PATHS:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                calls.append((method, concrete(rule)))
    return calls


def test_dashboard_blueprint_is_mounted_with_its_actions(app: Flask) -> None:
    rules = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/rq")}
    # The mutating actions must be among the routes the next tests enumerate.
    for action in ("/rq/job/<job_id>/requeue", "/rq/job/<job_id>/delete", "/rq/requeue/<queue_name>",
                   "/rq/queue/<queue_name>/<registry_name>/empty", "/rq/queue/<queue_name>/compact",
                   "/rq/static/<path:filename>"):  # fmt: skip
        assert action in rules
    assert len(rules) >= 15


@pytest.mark.parametrize("prefix", ["/rq", "/api"])
def test_every_route_refuses_without_or_with_a_wrong_token(app: Flask, redis_conn: redis.Redis, prefix: str) -> None:
    redis_conn.lpush("rq:queue:svctest", "sentinel")  # an "empty" action would remove it
    client = app.test_client()
    calls = protected_calls(app, prefix)
    assert calls
    for method, path in calls:
        for headers in ({}, {"Authorization": "Bearer wrong"}, basic("u", "wrong"), {"Authorization": TOKEN}):
            resp = client.open(path, method=method, headers=headers)
            assert resp.status_code == 401, (method, path, headers, resp.status_code)
            assert resp.json["success"] is False
            # Never Basic: a browser would cache it and re-send it with cross-site requests.
            assert resp.headers["WWW-Authenticate"] == 'Bearer realm="syncsvc"'
    assert redis_conn.lrange("rq:queue:svctest", 0, -1) == [b"sentinel"]


def test_requeue_all_by_get_is_refused(app: Flask, redis_conn: redis.Redis) -> None:
    # This dashboard route mutates on GET, so an <img src> could trigger it.
    assert app.test_client().get("/rq/requeue/sync").status_code == 401
    resp = app.test_client().get("/rq/requeue/sync", headers=AUTH)
    assert resp.status_code == 405 and resp.headers["Allow"] == "POST"


def test_bearer_opens_the_dashboard(app: Flask) -> None:
    client = app.test_client()
    resp = client.get("/rq/", headers=AUTH)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert client.get("/rq/0/data/queues.json", headers=AUTH).status_code == 200
    with client.get("/rq/static/css/main.css", headers=AUTH) as static:
        assert static.status_code == 200 and static.mimetype == "text/css"


def test_basic_auth_is_accepted_nowhere(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/api/sync/history", headers=basic("x", TOKEN)).status_code == 401
    assert client.get("/rq/0/data/queues.json", headers=basic("x", TOKEN)).status_code == 401


def test_a_browser_without_a_session_is_sent_to_sign_in(app: Flask) -> None:
    resp = app.test_client().get("/rq/0/view/queues", headers={"Accept": "text/html"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/login?next=/rq/0/view/queues"


def test_health_needs_no_token(app: Flask) -> None:
    assert app.test_client().get("/healthz").json == {"status": "ok"}


def test_without_a_token_only_loopback_clients_are_served(redis_url: str, tmp_path: Path) -> None:
    app = make_app(make_settings(redis_url, tmp_path, sync_api_token=None))
    client = app.test_client()
    assert client.get("/api/sync/history").status_code == 200
    assert client.get("/rq/").status_code == 200
    remote = client.get("/api/sync/history", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert remote.status_code == 401 and "loopback" in remote.json["error"]
    assert client.get("/healthz", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200


def test_other_dashboard_instances_are_404_not_500(app: Flask) -> None:
    assert app.test_client().get("/rq/1/view/queues", headers=AUTH).status_code == 404
