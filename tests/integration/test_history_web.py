"""The API reads either backend the same way; /readyz shows the history's schema version."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from syncsvc.store.history import SCHEMA_VERSION, ItemRecord, open_history
from tests.service_fixtures import AUTH, http_stub, make_app, make_settings


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest) -> str | None:
    return str(request.getfixturevalue("pg_url")) if request.param == "postgresql" else None


def test_history_routes_and_readyz_on_each_backend(redis_url: str, tmp_path: Path, history_url: str | None) -> None:
    settings = make_settings(redis_url, tmp_path, history_url=history_url)
    history = open_history(settings)
    history.start_run("run1", "INVOICE", {"limit": 2}, False, trigger="cli")
    history.record_items("run1", [ItemRecord("SO-1", "created", luca_id=9), ItemRecord("SO-2", "failed")])
    history.finish_run("run1", "finished", {"total": 2, "created": 1, "failed": 1})
    history.close()
    with http_stub() as katana, http_stub() as luca:
        app = make_app(settings.with_overrides(katana_base_url=f"{katana}/v1", luca_base_url=luca))
        client = app.test_client()
        ready = client.get("/readyz").json
        check = ready["checks"]["historyDb"]
        assert check["ok"] is True  # Katana and Luca are stubs here: only the history is ready
        assert check["schemaVersion"] == check["latestSchemaVersion"] == SCHEMA_VERSION
        assert ("postgresql" if history_url else "sqlite") in check["detail"]
        page = client.get("/api/sync/history?type=INVOICE", headers=AUTH).json
        assert page["total"] == 1 and page["runs"][0]["trigger"] == "cli"
        items = client.get("/api/sync/history/run1/items?outcome=failed", headers=AUTH).json
        assert items["total"] == 1 and items["items"][0]["itemKey"] == "SO-2"


def test_an_unreachable_history_server_is_a_503_without_its_password(redis_url: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, tmp_path, history_url="postgresql://sync:s3cretpw@127.0.0.1:9/history")
    client = make_app(settings).test_client()
    began = time.monotonic()
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.json["checks"]["historyDb"]["ok"] is False
    assert "127.0.0.1:9/history" in resp.json["checks"]["historyDb"]["detail"]
    assert "s3cretpw" not in resp.get_data(as_text=True)
    resp = client.get("/api/sync/history", headers=AUTH)
    assert resp.status_code == 503 and "s3cretpw" not in resp.get_data(as_text=True), resp.get_data(as_text=True)
    assert time.monotonic() - began < 15
