"""Every test here runs once per backend: SQLite (a file in tmp_path) and PostgreSQL (a schema of
its own in this run's database, see tests/pgdb.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncsvc.store.history import History, open_history


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a history lives: a SQLite path or a postgresql:// URL."""
    if request.param == "sqlite":
        return str(tmp_path / "history.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def history(target: str) -> Iterator[History]:
    h = open_history(target)
    yield h
    h.close()
