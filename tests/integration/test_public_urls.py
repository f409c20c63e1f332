"""Links in answers (issue #11, item 5): from SYNC_PUBLIC_URL when set, else from the request, never
a hard-coded 127.0.0.1:8000 while the app listens elsewhere."""

from __future__ import annotations

from pathlib import Path

from tests.service_fixtures import AUTH, make_app, make_settings


def _start(redis_url: str, tmp_path: Path, base_url: str, **overrides: str) -> dict[str, str]:
    app = make_app(make_settings(redis_url, tmp_path, **overrides))
    resp = app.test_client().post("/api/sync/start", json={"syncType": "PRODUCT"}, headers=AUTH, base_url=base_url)
    assert resp.status_code == 202, resp.json
    body: dict[str, str] = resp.json  # type: ignore[assignment]
    return body


def test_links_follow_the_request_when_no_public_url_is_set(redis_url: str, tmp_path: Path) -> None:
    body = _start(redis_url, tmp_path, "http://10.1.2.3:5000")
    assert body["dashboardUrl"] == f"http://10.1.2.3:5000/rq/0/view/job/{body['jobId']}"
    assert body["statusUrl"] == f"http://10.1.2.3:5000/api/sync/job/{body['jobId']}"
    assert "127.0.0.1:8000" not in str(body)


def test_public_url_wins_behind_a_proxy(redis_url: str, tmp_path: Path) -> None:
    body = _start(redis_url, tmp_path, "http://10.1.2.3:5000", public_url="https://sync.example.com")
    assert body["dashboardUrl"].startswith("https://sync.example.com/rq/0/view/job/")
    assert body["statusUrl"] == f"https://sync.example.com/api/sync/job/{body['jobId']}"
