"""Helpers shared by the service tests (the app on the test Redis, a stand-in job, a token)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from flask import Flask

from syncsvc.settings import Settings
from syncsvc.web.app import create_app

TOKEN = "test-token-5f1c0a9e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Stand-in for jobs.tasks.run_sync_job: CUSTOMER aborts, the other types succeed.
FAKE_JOB = "tests.e2e.fake_jobs.fake_job"


def make_settings(redis_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "redis_url": redis_url,
        "sync_api_token": TOKEN,
        "history_db": str(tmp_path / "history.db"),
        "key_prefix": "svctest",
    }
    base.update(overrides)
    return Settings(**base)


def make_app(settings: Settings, **config: Any) -> Flask:
    return create_app(settings, {"SYNC_JOB_FUNCTION": FAKE_JOB, "TESTING": True, **config})


@contextmanager
def http_stub(status: int = 404) -> Iterator[str]:
    """A loopback HTTP server answering every GET with ``status`` (a reachable Katana/Luca)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = b"{}"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
