"""Shared fixtures: a real Redis in a database index claimed for this run, and the sandbox simulators."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import settings as hypothesis_settings

from sandbox.testing import Sandbox, start_sandbox
from tests.pgdb import TestPostgres, admin_url, unreachable_reason
from tests.redisdb import TestRedis, acquire, wipe

# No per-example deadline: on a loaded 2-core CI machine an example may take longer than
# hypothesis' default 200 ms; speed is the benchmarks' business (bench/), not a test's.
hypothesis_settings.register_profile("syncsvc", deadline=None)
hypothesis_settings.load_profile("syncsvc")

_TEST_REDIS: TestRedis | None = None
_TEST_PG: TestPostgres | None = None
_PG_MISSING: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _TEST_REDIS
    _TEST_REDIS = acquire()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _TEST_REDIS is not None:
        _TEST_REDIS.release()
    if _TEST_PG is not None:
        _TEST_PG.release()


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


def _postgres() -> TestPostgres:
    """This run's PostgreSQL database, created on first use. No server: one skip reason for every
    PostgreSQL test, or a failure with CI=true (CI promises one; .ci/run checks it answers)."""
    global _TEST_PG, _PG_MISSING
    if _TEST_PG is None and _PG_MISSING is None:
        why = unreachable_reason(admin_url())
        if why is None:
            _TEST_PG = TestPostgres(admin_url())
        else:
            _PG_MISSING = f"no PostgreSQL at {admin_url()} ({why})"
    if _TEST_PG is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {_PG_MISSING}", pytrace=False)
        pytest.skip(f"PostgreSQL tests skipped: {_PG_MISSING}")
    return _TEST_PG


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Fold every "no PostgreSQL" skip into ONE summary line (pytest folds skips that share a
    location and reason) instead of one line per test."""
    report = yield
    if _PG_MISSING and report.skipped and isinstance(report.longrepr, tuple) and _PG_MISSING in report.longrepr[2]:
        report.longrepr = (__file__, _postgres.__code__.co_firstlineno, report.longrepr[2])
    return report


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose connections see an empty schema of their own, dropped after the test."""
    pg = _postgres()
    name, url = pg.schema()
    yield url
    pg.drop_schema(name)


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
