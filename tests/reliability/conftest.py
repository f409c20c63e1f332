"""Fixtures of the heavy scenarios (``make reliability``): a private Redis per test, a sandbox
sized per test, and the service started from them; a figures table at the end of the run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.testing import Sandbox, start_sandbox
from tests.reliability import figures
from tests.reliability.stack import PrivateRedis, Service, sandbox_args


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def make(*args: str) -> Sandbox:
        sb = start_sandbox(*sandbox_args(*args), timeout=60)
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def make_service(private_redis: PrivateRedis, tmp_path: Path) -> Iterator[Callable[..., Service]]:
    services: list[Service] = []

    def make(sb: Sandbox, workers: int = 1, **env: Any) -> Service:
        svc = Service(sb, private_redis, tmp_path, {k: str(v) for k, v in env.items()})
        services.append(svc)
        return svc.start(workers)

    yield make
    for svc in services:
        svc.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if figures.ROWS:
        terminalreporter.section("reliability figures")
        terminalreporter.write_line(figures.table())
        figures.save()
