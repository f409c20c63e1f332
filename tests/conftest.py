"""Shared fixtures: a real Redis in a database index of its own, and the sandbox simulators."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sandbox.testing import Sandbox, start_sandbox

# Tests own one Redis database index (flushed before and after each test that asks for Redis).
TEST_REDIS_DB = int(os.environ.get("SYNCSVC_TEST_REDIS_DB", "15"))
TEST_REDIS_URL = os.environ.get("SYNCSVC_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{TEST_REDIS_DB}")


@pytest.fixture
def redis_url() -> Iterator[str]:
    conn = redis.Redis.from_url(TEST_REDIS_URL)
    conn.flushdb()
    yield TEST_REDIS_URL
    conn.flushdb()
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
