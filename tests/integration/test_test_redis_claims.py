"""The tests' Redis claims (issue #10 defect 9: `make test` ran FLUSHDB on database 15 of the
machine's Redis, a database it never claimed). Checked against a private server standing in for
the machine's: database 0 and databases holding somebody's data are never claimed nor touched,
two sessions get two databases, a release empties only its own, a dead session's claim is
taken back."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import psutil
import pytest
import redis

from tests.redisdb import MARKER, _claim, _private_server
from tests.redisdb import TestRedis as Claim  # not "Test*": pytest would collect it


@pytest.fixture
def machine() -> Iterator[str]:
    server = _private_server()
    yield server.url.rsplit("/", 1)[0]
    server.release()


def db(base: str, index: int) -> redis.Redis:
    return redis.Redis.from_url(f"{base}/{index}")


def claimed(base: str) -> Claim:
    got = _claim(base)
    assert got is not None
    return got


def test_claims_skip_db0_and_data_that_is_not_theirs_and_release_only_their_own(machine: str) -> None:
    db(machine, 0).set("someone:else", "0")
    db(machine, 1).set("someone:else", "1")
    first, second = claimed(machine), claimed(machine)  # two sessions at once (a live owner: skipped)
    assert (first.url, second.url) == (f"{machine}/2", f"{machine}/3")
    db(machine, 2).set("test:data", "x")
    first.release()
    second.release()
    assert db(machine, 2).dbsize() == 0 and db(machine, 3).dbsize() == 0
    assert db(machine, 0).get("someone:else") == b"0" and db(machine, 1).get("someone:else") == b"1"
    assert db(machine, 0).dbsize() == 1 and db(machine, 1).dbsize() == 1


def test_a_dead_sessions_claim_is_taken_back_and_a_live_foreign_one_left_alone(machine: str) -> None:
    dead = max(psutil.pids()) + 10_000
    while psutil.pid_exists(dead):
        dead += 1
    host = socket.gethostname()
    db(machine, 1).set(MARKER, f"{host}:1")  # a live process (pid 1) holds db 1
    db(machine, 1).set("live:data", "keep")
    db(machine, 2).set(MARKER, f"{host}:{dead}")  # a killed run's leftovers in db 2
    db(machine, 2).set("dead:data", "gone")
    mine = claimed(machine)
    assert mine.url == f"{machine}/2"
    assert db(machine, 2).get("dead:data") is None
    assert db(machine, 1).get("live:data") == b"keep"
    mine.release()
    assert db(machine, 1).get("live:data") == b"keep" and db(machine, 1).get(MARKER) == f"{host}:1".encode()
