"""The processes a benchmark runs against: a private Redis, the simulators, and a service stack
(gunicorn + ``rq worker sync``) started exactly as in production, each stopped on any exit."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import requests

from sandbox.testing import Sandbox, start_sandbox
from syncsvc.net import free_port, wait_http
from syncsvc.ops.procs import Child, Children, web_argv, worker_argv
from syncsvc.process import stop_process

TOKEN = "bench-token-7d3f"
# The sandbox accepts every key listed here. Each run takes a fresh one so no run inherits
# another's Katana budget (ours in Redis, the simulator's fixed window): rows stay independent.
KATANA_KEYS = tuple(f"bench-key-{i:02d}" for i in range(40))
OBSERVER_KEY = "bench-observer"


@contextmanager
def private_redis() -> Iterator[str]:
    """A throw-away redis-server (no persistence) so the shared 6379 and other engineers' tests
    neither disturb nor are disturbed by the benchmark."""
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        conn = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                conn.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("private redis-server did not start") from None
                time.sleep(0.05)
        conn.close()
        yield url
    finally:
        stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def sandbox(*args: str) -> Sandbox:
    keys = ",".join((*KATANA_KEYS, OBSERVER_KEY))
    return start_sandbox("--katana-api-keys", keys, "--log-level", "error", *args, timeout=120.0)


class KeyRing:
    """Hands out an unused Katana API key per service stack."""

    def __init__(self) -> None:
        self._next = 0

    def take(self) -> str:
        key = KATANA_KEYS[self._next % len(KATANA_KEYS)]
        self._next += 1
        return key


KEYS = KeyRing()


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    web: Child
    workers: list[Child]

    def api(self) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {TOKEN}"
        return s


@contextmanager
def service_stack(
    sb: Sandbox, redis_url: str, workdir: Path, prefix: str, workers: int = 1, **settings: Any
) -> Iterator[Stack]:
    """gunicorn + ``workers`` × ``rq worker`` with the production command line (the queue is
    ``prefix``, SYNC_KEY_PREFIX being SYNC_INSTANCE's older name).

    ``settings`` are extra environment variables (``SYNC_POOL_SIZE="10"`` ...)."""
    port = free_port()
    env = {
        "REDIS_URL": redis_url,
        "SYNC_API_TOKEN": TOKEN,
        "SYNC_HISTORY_DB": str(workdir / f"{prefix}-history.db"),
        "SYNC_KEY_PREFIX": prefix,
        "SYNC_BIND": f"127.0.0.1:{port}",
        "SYNC_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SYNC_API_URL": f"http://127.0.0.1:{port}",
        "KATANA_BASE_URL": f"{sb.katana_url}/v1",
        "LUCA_BASE_URL": f"{sb.luca_url}/Yetki",
        "KATANA_API_KEY": KEYS.take(),
        **{k: str(v) for k, v in settings.items()},
    }
    children = Children()
    logs = workdir / "logs" / prefix
    with ExitStack() as cleanup:
        cleanup.callback(children.stop_all)
        web = children.spawn("web", web_argv(), env, log_dir=logs)
        procs = [children.spawn(f"worker{i}", worker_argv(), env, log_dir=logs) for i in range(workers)]
        url = f"http://127.0.0.1:{port}"
        if not wait_http(f"{url}/healthz", timeout=30):
            raise RuntimeError(f"web did not start:\n{web.tail()}")
        _wait_workers(redis_url, prefix, workers, procs)
        yield Stack(url, env, web, procs)


def _wait_workers(redis_url: str, queue: str, count: int, procs: list[Child]) -> None:
    """A job enqueued before a worker listens only waits, but then the wall time would include
    the worker's start-up (imports, ~1 s), which no production sync pays. Counted on this stack's
    queue (the prefix names it): other workers on the same Redis are not this stack's."""
    from rq import Queue, Worker

    conn = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 30
    try:
        while len(Worker.all(queue=Queue(queue, connection=conn))) < count:
            dead = [p for p in procs if not p.alive()]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"rq worker did not start:\n{(dead or procs)[0].tail()}")
            time.sleep(0.05)
    finally:
        conn.close()
