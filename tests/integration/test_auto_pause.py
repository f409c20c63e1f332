"""Auto-pause and alerts: three systemic failures in a row pause a type's scheduled runs; status,
metrics and the alert webhook say so; POST /api/sync/resume lifts it (and alerts again)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis

from jobs.run import run_sync
from sandbox.testing import Sandbox
from syncsvc.domain.errors import AccessRefused
from syncsvc.domain.model import RunRequest
from syncsvc.settings import Settings
from tests.service_fixtures import AUTH, make_app, make_settings


@contextmanager
def alert_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", "0"))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def _run(settings: Settings, conn: redis.Redis, trigger: str = "api") -> dict[str, Any]:
    request = RunRequest("CUSTOMER", limit=3, trigger=trigger, mode="full")
    return run_sync(request, settings=settings, conn=conn, run_id=uuid.uuid4().hex)


def _customer(status: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in status["types"] if t["syncType"] == "CUSTOMER")


def test_three_refused_runs_pause_scheduled_runs_until_resumed(
    redis_url: str, redis_conn: redis.Redis, tmp_path: Path, sandbox: Sandbox
) -> None:
    with alert_receiver() as (hook, alerts):
        settings = make_settings(
            redis_url, tmp_path, katana_base_url=f"{sandbox.katana_url}/v1", luca_base_url=f"{sandbox.luca_url}/Yetki",
            katana_api_key="revoked-key-0001", alert_webhook_url=hook,
        )  # fmt: skip
        client = make_app(settings).test_client()
        for attempt in range(3):
            with pytest.raises(AccessRefused):
                _run(settings, redis_conn)
            state = _customer(client.get("/api/sync/status", headers=AUTH).json)
            assert state["consecutiveFailures"] == attempt + 1
            assert state["paused"] is (attempt == 2)
        assert state["pausedReason"].startswith("AccessRefused: Katana refused") and state["pausedSince"]
        assert [a["event"] for a in alerts] == ["paused"]
        assert alerts[0]["syncType"] == "CUSTOMER" and alerts[0]["consecutiveFailures"] == 3
        assert "revoked-key-0001" not in json.dumps(alerts)

        metrics = client.get("/metrics", headers=AUTH).get_data(as_text=True)
        assert 'syncsvc_paused{sync_type="CUSTOMER"} 1.0' in metrics
        assert 'syncsvc_paused{sync_type="PRODUCT"} 0.0' in metrics

        # A scheduled run skips itself; a person's run still runs (and fails: the key is still wrong).
        skipped = _run(settings, redis_conn, trigger="schedule")
        assert skipped["notRun"] == "paused" and skipped["total"] == 0
        with pytest.raises(AccessRefused):
            _run(settings, redis_conn)
        assert [a["event"] for a in alerts] == ["paused"]  # paused once, alerted once

        bad = client.post("/api/sync/resume", json={"syncType": "NOPE"}, headers=AUTH)
        assert bad.status_code == 400 and "syncType must be one of" in bad.json["error"]
        resumed = client.post("/api/sync/resume", json={"syncType": "CUSTOMER"}, headers=AUTH)
        assert resumed.status_code == 200 and resumed.json["wasPaused"] is True
        state = _customer(client.get("/api/sync/status", headers=AUTH).json)
        assert state["paused"] is False and state["consecutiveFailures"] == 0
        assert [a["event"] for a in alerts] == ["paused", "resumed"]

        # Fixed key: a finished run keeps the count at zero and records the last success.
        good = settings.with_overrides(katana_api_key="demo-katana-key")
        assert _run(good, redis_conn, trigger="schedule")["total"] == 3
        state = _customer(client.get("/api/sync/status", headers=AUTH).json)
        assert state["lastSuccessAt"] and state["consecutiveFailures"] == 0
