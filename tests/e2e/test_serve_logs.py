"""`python -m syncsvc serve` keeps the web process's output (issue #11, item 8): a log file in
SYNC_LOG_DIR with the access log, echoed to the terminal too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from syncsvc.net import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]


def test_serve_keeps_an_access_log_in_the_log_dir(redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "SYNC_API_TOKEN": "serve-log-token-1",
        "SYNC_LOG_DIR": str(tmp_path / "logs"),
        "SYNC_HISTORY_DB": str(tmp_path / "history.db"),
        "SYNC_LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncsvc", "serve", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
        resp = requests.get(
            f"http://127.0.0.1:{port}/api/sync/history",
            headers={"Authorization": "Bearer serve-log-token-1"},
            timeout=5,
        )
        assert resp.status_code == 200
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    log = (tmp_path / "logs" / "web.log").read_text()
    assert "/api/sync/history" in log and '"gunicorn.access"' in log
    assert "/api/sync/history" in out and str(tmp_path / "logs" / "web.log") in out
    assert "serve-log-token-1" not in log
