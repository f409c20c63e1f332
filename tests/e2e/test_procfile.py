"""The Procfile's web line under a Heroku-style runner: it listens on $PORT (issue #11, item 3),
and still refuses a non-loopback bind without SYNC_API_TOKEN."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import requests

from syncsvc.net import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]


def procfile_command(role: str) -> list[str]:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() == role:
            return shlex.split(command)
    raise AssertionError(f"no {role} line in the Procfile")


def _env(redis_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNC_", "PORT"))}
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        {"PATH": f"{bin_dir}:{env.get('PATH', '')}", "REDIS_URL": redis_url,
         "SYNC_HISTORY_DB": str(tmp_path / "history.db"), "SYNC_LOG_FORMAT": "text", **extra}
    )  # fmt: skip
    return env


def test_web_listens_on_port_from_the_environment(redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = _env(redis_url, tmp_path, PORT=str(port), SYNC_API_TOKEN="procfile-token-123")
    proc = subprocess.Popen(
        procfile_command("web"), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert wait_http(f"http://127.0.0.1:{port}/healthz", timeout=20)
        resp = requests.get(f"http://127.0.0.1:{port}/api/sync/history", timeout=5)
        assert resp.status_code == 401  # exposed on every interface, so the token is enforced
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert f"0.0.0.0:{port}" in out


def test_web_on_port_without_a_token_refuses_to_start(redis_url: str, tmp_path: Path) -> None:
    env = _env(redis_url, tmp_path, PORT=str(free_port()))
    started = time.monotonic()
    out = subprocess.run(procfile_command("web"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and time.monotonic() - started < 60
    assert "refusing to listen on 0.0.0.0" in out.stderr + out.stdout
    assert "Traceback" not in out.stderr + out.stdout
