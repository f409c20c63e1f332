"""Sign-in, CSRF, same-origin writes, security headers and the dashboard's escaped job data
(Flask test client; the browser versions of these are in tests/browser)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from syncsvc.domain.errors import ConfigError
from syncsvc.web.security import escape_strings, inline_script_hashes
from tests.service_fixtures import AUTH, TOKEN, make_app, make_settings

ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture
def app(redis_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(make_settings(redis_url, tmp_path))
    yield app
    app.extensions["syncsvc"].close()


def csrf_of(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    resp = client.post("/login", data={"token": TOKEN, "csrf": csrf_of(client)}, headers=ORIGIN)
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    return client


def test_short_tokens_are_refused_at_start(redis_url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 16 characters"):
        make_app(make_settings(redis_url, tmp_path, sync_api_token="x"))


def test_sign_in_sets_a_strict_httponly_cookie(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/").headers["Location"] == "/login?next=/"
    resp = client.post("/login", data={"token": TOKEN, "csrf": csrf_of(client)}, headers=ORIGIN)
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    assert client.get("/").status_code == 200
    assert client.get("/api/sync/history").status_code == 200  # the console's script reads the API
    https = app.test_client().get("/login", base_url="https://localhost")
    assert "Secure" in https.headers["Set-Cookie"]


def test_wrong_token_and_missing_csrf_are_refused(app: Flask) -> None:
    client = app.test_client()
    wrong = client.post("/login", data={"token": "nope", "csrf": csrf_of(client)}, headers=ORIGIN)
    assert wrong.status_code == 401
    assert client.post("/login", data={"token": TOKEN}, headers=ORIGIN).status_code == 400
    assert client.get("/").status_code == 303


def test_next_never_leaves_the_site(app: Flask) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        client = app.test_client()
        resp = client.post("/login", data={"token": TOKEN, "csrf": csrf_of(client), "next": target}, headers=ORIGIN)
        assert resp.headers["Location"] == "/"


def test_cookie_writes_need_same_origin_and_csrf(app: Flask) -> None:
    client = signed_in(app)
    token = csrf_of(client, "/start")
    body = {"syncType": "PRODUCT", "csrf": token}
    for headers in ({}, {"Origin": "http://evil.example"}, {"Origin": "null"}, {"Referer": "http://evil.example/"}):
        assert client.post("/start", data=body, headers=headers).status_code == 403, headers
        assert client.post("/rq/queue/svctest/failed/empty", headers=headers).status_code == 403, headers
    assert client.post("/start", data={"syncType": "PRODUCT"}, headers=ORIGIN).status_code == 400  # no CSRF
    assert client.post("/start", data=body, headers={"Referer": "http://localhost/start"}).status_code == 303
    # curl with the bearer token needs neither.
    assert app.test_client().post("/rq/queue/svctest/failed/empty", headers=AUTH).status_code == 200


def test_security_headers_on_every_kind_of_page(app: Flask) -> None:
    client = signed_in(app)
    for path in ("/", "/login", "/failed", "/api/sync/history", "/rq/", "/rq/0/data/queues.json", "/healthz"):
        resp = client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp.split("style-src")[0], path
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    console_csp = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self';" in console_csp
    dashboard = client.get("/rq/")
    hashes = inline_script_hashes(dashboard.get_data(as_text=True))
    assert hashes and all(h in dashboard.headers["Content-Security-Policy"] for h in hashes)


def test_dashboard_json_is_escaped_except_fields_it_escapes_itself() -> None:
    data = {"result": {"failures": [{"message": '"><img src=x onerror=alert(1)>'}]}, "description": "<b>"}
    escaped = escape_strings(data)
    assert escaped["result"]["failures"][0]["message"] == "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
    assert escape_strings(data, {"description"})["description"] == "<b>"


def test_inline_script_hashes_skip_templates_and_external_scripts() -> None:
    page = '<script src="/a.js"></script><script type="text/template"><%= x %></script><script>var a=1;</script>'
    digest = base64.b64encode(hashlib.sha256(b"var a=1;").digest()).decode()
    assert inline_script_hashes(page) == [f"'sha256-{digest}'"]
