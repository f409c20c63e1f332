"""`python -m syncsvc demo --once` orchestration, and the loopback-only rule without a token."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from syncsvc.net import free_port, port_is_free

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncsvc", "demo", "--once", "--timeout", "30"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_readme_curl_lines_follow_the_exported_url() -> None:
    lines = Path(ROOT, "README.md").read_text().splitlines()
    curls = [line for line in lines if line.strip().startswith("curl")]
    assert curls and all("$SYNC_API_URL" in line and ":8000" not in line for line in curls), curls


def test_demo_once_runs_all_three_types_on_its_own_redis_and_cleans_up(redis_url: str, redis_conn: redis.Redis) -> None:
    # Somebody's data on the Redis the environment names, under the names a demo uses (issue #10
    # defect 6: a second demo deleted the first one's keys). The demo must neither touch nor use it.
    planted = {"syncsvc-demo:claim:PRODUCT": "other-demo-job", "demo:cursor:PRODUCT": "x", "sync:cursor:PRODUCT": "y"}
    for key, value in planted.items():
        redis_conn.set(key, value)
    redis_conn.rpush("rq:queue:demo", "other-demo-job")
    before = set(redis_conn.scan_iter(count=1000))
    # Fake jobs stand in for the engine; every type finishes (with one failed item each).
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "SYNCSVC_JOB_FUNCTION": "tests.e2e.fake_jobs.fake_sync",
        "SYNC_PRELOAD": "tests.e2e.fake_jobs",
    }
    env.pop("SYNC_API_TOKEN", None)
    # Port 8000 taken (issue #11, item 10): the demo moves and must say where it went.
    blocker = socket.socket()
    try:
        blocker.bind(("127.0.0.1", 8000))
        blocker.listen()
    except OSError:
        pass  # something else holds it already: the same situation
    try:
        out = _demo(env)
    finally:
        blocker.close()
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    for sync_type in ("PRODUCT", "CUSTOMER", "INVOICE"):
        assert re.search(rf"^\s*{sync_type}\s+FINISHED\s+\d+", text, re.M), text
    assert text.count("FINISHED") == 3
    assert "Failed items" in text and "SKU-5" in text and "Birim yok" in text
    assert "/rq/" in text and "sign in with the token" in text and "/api/sync/history" in text
    assert "Traceback" not in out.stderr
    exports = re.findall(r"^  export SYNC_API_URL=(http://127\.0\.0\.1:(\d+)) SYNC_API_TOKEN=(\S+)$", text, re.M)
    assert len(exports) == 1, text
    api_url, port, token = exports[0]
    assert port != "8000" and f"Web app on {api_url}" in text and f"{api_url}/rq/" in text
    assert token in text.split("API token:")[1].split()[0]
    # Children are gone: the simulator and web ports it announced are free again.
    for line in text.splitlines():
        if line.startswith("Simulators on"):
            ports = [int(p.rsplit(":", 1)[1].split()[0]) for p in line.split() if p.startswith("http://")]
            assert ports and all(port_is_free(p) for p in ports)
    # Its own Redis, gone with it; the environment's Redis holds exactly what it held before.
    own = re.search(r"^Redis redis://127\.0\.0\.1:(\d+)/0 \(started for this demo, removed on exit\)$", text, re.M)
    assert own is not None and port_is_free(int(own.group(1))), text
    assert set(redis_conn.scan_iter(count=1000)) == before
    assert all(redis_conn.get(k) == v.encode() for k, v in planted.items())
    assert redis_conn.lrange("rq:queue:demo", 0, -1) == [b"other-demo-job"]


@pytest.mark.parametrize(
    "argv",
    [
        [sys.executable, "-m", "syncsvc", "serve", "--bind", "0.0.0.0:{port}"],
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:syncsvc.ops.gunicorn_conf",
            "-b",
            "0.0.0.0:{port}",
            "syncsvc.web.app:create_app()",
        ],
    ],  # fmt: skip
)
def test_no_token_refuses_a_public_bind(redis_url: str, argv: list[str]) -> None:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url}
    env.pop("SYNC_API_TOKEN", None)
    out = subprocess.run(
        [a.format(port=port) for a in argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=30
    )
    assert out.returncode != 0
    assert "without SYNC_API_TOKEN" in out.stderr and "Traceback" not in out.stderr
    assert port_is_free(port)
