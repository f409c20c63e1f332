"""Shared fixtures: a real Redis in a database index claimed for this run, and the sandbox simulators."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sandbox.testing import Sandbox, start_sandbox
from tests.redisdb import TestRedis, acquire, wipe

_TEST_REDIS: TestRedis | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _TEST_REDIS
    _TEST_REDIS = acquire()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _TEST_REDIS is not None:
        _TEST_REDIS.release()  # type: ignore[operator]


def pytest_report_header(config: pytest.Config) -> str:
    return f"redis: {_TEST_REDIS.url if _TEST_REDIS else '?'} (claimed for this run; see tests/redisdb.py)"


@pytest.fixture
def redis_url() -> Iterator[str]:
    assert _TEST_REDIS is not None
    conn = redis.Redis.from_url(_TEST_REDIS.url)
    wipe(conn)
    yield _TEST_REDIS.url
    wipe(conn)
    conn.close()


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_url)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def sandbox_session() -> Iterator[Sandbox]:
    """One simulator process for the whole session (reset per test by ``sandbox``)."""
    sb = start_sandbox()
    yield sb
    sb.stop()


@pytest.fixture
def sandbox(sandbox_session: Sandbox) -> Sandbox:
    """The shared simulators, reseeded with default data and no faults."""
    sandbox_session.reset()
    return sandbox_session


RELIABILITY_DIR = Path(__file__).resolve().parent / "reliability"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The heavy scenarios under tests/reliability run only when named (``make reliability``),
    not in the default ``make test`` run; every other directory is collected as usual."""
    if collection_path != RELIABILITY_DIR:
        return None
    named = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    return not any(p == RELIABILITY_DIR or RELIABILITY_DIR in p.parents for p in named)
