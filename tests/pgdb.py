"""The PostgreSQL the tests use: a database created for this test run, a schema per test.

The machine's PostgreSQL (127.0.0.1:5432, user postgres, database ``test``) is shared with other
work, so a run creates its own database (``syncsvc_test_<host>_<pid>_<random>``), gives each test a
fresh schema in it, and drops only that database at the end. ``SYNCSVC_TEST_PG_URL`` points at
another server (any database there to connect to for CREATE DATABASE). With no server answering,
the PostgreSQL tests skip with one reason; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

MACHINE_URL = "postgresql://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    return os.environ.get("SYNCSVC_TEST_PG_URL") or MACHINE_URL


def unreachable_reason(url: str) -> str | None:
    """None when a server answers at ``url``, else one line saying why not."""
    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.Error as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return lines[0].removeprefix("connection failed: ") if lines else type(exc).__name__
    return None


def with_database(url: str, database: str, schema: str | None = None) -> str:
    """``url`` pointed at another database, optionally with ``search_path`` set to ``schema``."""
    parts = urlsplit(url)
    query = f"options={quote(f'-csearch_path={schema}')}" if schema else ""
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, query, ""))


class TestPostgres:
    """One database for a test run; ``schema()`` makes an empty schema in it for one test."""

    def __init__(self, url: str) -> None:
        self.admin = url
        host = re.sub(r"[^a-z0-9]", "", socket.gethostname().lower())[:12]
        self.database = f"syncsvc_test_{host}_{os.getpid()}_{secrets.token_hex(3)}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        self.url = with_database(url, self.database)

    def schema(self) -> tuple[str, str]:
        """A new empty schema: (its name, a URL whose connections use it)."""
        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        return name, with_database(self.admin, self.database, name)

    def drop_schema(self, name: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))

    def release(self) -> None:
        """Drop this run's database (and only it); FORCE ends connections a test left behind."""
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.database)))


if __name__ == "__main__":  # `python -m tests.pgdb`: .ci/run's check that PostgreSQL answers
    import sys

    reason = unreachable_reason(admin_url())
    if reason:
        sys.exit(f"ci: no PostgreSQL answers at {admin_url()} ({reason}); CI needs one for the history tests")
    print(f"ci: PostgreSQL answers at {admin_url()}")
