"""The run lock's heartbeat: extends while ours, stops the run once the lock is lost."""

from __future__ import annotations

import pytest
import redis

from syncsvc.domain.errors import RunAborted
from syncsvc.store import locks
from syncsvc.store.locks import RunLock
from tests.redisdb import wipe


@pytest.fixture(autouse=True)
def check_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locks, "CHECK_EVERY_S", 0.0, raising=False)


def test_heartbeat_extends_the_lock_while_it_is_ours(redis_conn: redis.Redis) -> None:
    lock = RunLock(redis_conn, "t", "PRODUCT", "run-a")
    lock.acquire()
    redis_conn.expire(lock.key, 5)
    lock.heartbeat()
    assert redis_conn.ttl(lock.key) > 5
    lock.release()
    assert redis_conn.get(lock.key) is None


@pytest.mark.parametrize("takeover", [None, "run-b"])
def test_heartbeat_aborts_once_when_the_lock_is_lost(redis_conn: redis.Redis, takeover: str | None) -> None:
    lock = RunLock(redis_conn, "t", "INVOICE", "run-a")
    lock.acquire()
    wipe(redis_conn)  # what a FLUSHALL (or a restart without persistence) does to the lock
    if takeover:
        redis_conn.set(lock.key, takeover)
    with pytest.raises(RunAborted, match="run-b holds it" if takeover else "it is gone"):
        lock.heartbeat()
    lock.heartbeat()  # reported once: the failure path's own progress ticks must not raise again
    lock.release()
    assert redis_conn.get(lock.key) == (takeover.encode() if takeover else None)  # not ours to delete


def test_verify_before_a_write_stops_a_run_whose_lock_was_taken(redis_conn: redis.Redis) -> None:
    lock = RunLock(redis_conn, "t", "INVOICE", "run-a")
    lock.acquire()
    lock.verify()  # still ours: no error
    redis_conn.set(lock.key, "run-b")
    with pytest.raises(RunAborted, match="run-b holds it"):
        lock.verify()


def test_no_luca_write_is_sent_once_the_guard_refuses(redis_conn: redis.Redis) -> None:
    from jobs.engine import ItemState
    from jobs.upserts import Upserts
    from syncsvc.domain.model import Plan
    from syncsvc.store.cache import IdCache

    class NoWrites:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"Luca was called: {name}")

    def refuse() -> None:
        raise RunAborted("lost the run lock")

    caches = [IdCache(redis_conn, "t", kind, 60) for kind in ("stockcard", "customer", "invoice")]
    upserts = Upserts(NoWrites(), *caches, guard=refuse)  # type: ignore[arg-type]
    plan = Plan.of("K1", {}, label="x")
    for handler in (upserts.stock_card, upserts.customer, upserts.invoice):
        with pytest.raises(RunAborted):
            handler(plan, ItemState())
