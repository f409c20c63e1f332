"""A real service stack for end-to-end tests: gunicorn + ``rq worker sync`` subprocesses running the
fake jobs of ``tests/e2e/fake_jobs.py`` against the test Redis database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from sandbox.testing import Sandbox
from syncsvc.net import free_port, wait_http
from syncsvc.ops.procs import Child, Children, web_argv, worker_argv
from tests.service_fixtures import FAKE_JOB, TOKEN, http_stub


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    web: Child
    worker: Child
    history_db: str

    def session(self) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {TOKEN}"
        return s


def stack_env(redis_url: str, tmp_path: Path, katana: str, luca: str, port: int) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "SYNC_API_TOKEN": TOKEN,
        "SYNC_HISTORY_DB": str(tmp_path / "history.db"),
        "SYNC_KEY_PREFIX": "e2e",
        "SYNC_BIND": f"127.0.0.1:{port}",
        "SYNC_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SYNC_API_URL": f"http://127.0.0.1:{port}",
        "KATANA_BASE_URL": f"{katana}/v1",
        "LUCA_BASE_URL": f"{luca}/Yetki",
        "SYNCSVC_JOB_FUNCTION": FAKE_JOB,
        "SYNC_PRELOAD": "tests.e2e.fake_jobs",
        "SYNC_DASHBOARD_POLL_MS": "1000",
    }


@contextmanager
def running_stack(env: dict[str, str], port: int, logs: Path) -> Iterator[Stack]:
    """gunicorn and one ``rq worker sync`` with ``env``, until the block ends."""
    children = Children()
    try:
        web = children.spawn("web", web_argv(), env, log_dir=logs)
        worker = children.spawn("worker", worker_argv(), env, log_dir=logs)
        url = f"http://127.0.0.1:{port}"
        assert wait_http(f"{url}/healthz", timeout=20), web.tail()
        yield Stack(url, env, web, worker, env["SYNC_HISTORY_DB"])
    finally:
        children.stop_all()


@pytest.fixture
def stack(redis_url: str, tmp_path: Path) -> Iterator[Stack]:
    with http_stub(404) as katana, http_stub(404) as luca:
        port = free_port()
        env = stack_env(redis_url, tmp_path, katana, luca, port)
        logs = tmp_path / "logs"
        with running_stack(env, port, logs) as running:
            yield running
    assert os.path.isdir(logs)


@pytest.fixture
def json_stack(redis_url: str, tmp_path: Path, sandbox: Sandbox) -> Iterator[Stack]:
    children = Children()
    port = free_port()
    env = stack_env(redis_url, tmp_path, sandbox.katana_url, sandbox.luca_url, port)
    for test_hook in ("SYNCSVC_JOB_FUNCTION", "SYNCSVC_JOB_PATHS", "SYNC_PRELOAD"):  # the real jobs
        env.pop(test_hook, None)
    env.update(
        {
            "SYNC_LOG_FORMAT": "json",
            "SYNC_RETRY_BASE": "0.05",
            "SYNC_RETRY_MAX": "0.2",
            "LUCA_WRITE_SETTLE": "0",
            "LUCA_PASSWORD": "demo-luca-pass",
        }
    )
    try:
        web = children.spawn("web", web_argv(), env, log_dir=tmp_path / "logs")
        worker = children.spawn("worker", worker_argv(), env, log_dir=tmp_path / "logs")
        url = f"http://127.0.0.1:{port}"
        assert wait_http(f"{url}/healthz", timeout=20), web.tail()
        yield Stack(url, env, web, worker, env["SYNC_HISTORY_DB"])
    finally:
        children.stop_all()
