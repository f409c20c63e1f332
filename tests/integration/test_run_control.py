"""The run-control object: the lock is extended by its timer even when nothing ticks; a lost lock
or a Redis failure seen by the timer surfaces in the coordinating thread's next tick."""

from __future__ import annotations

import time

import pytest
import redis

from jobs.control import RunControl
from syncsvc.domain.errors import RunAborted
from syncsvc.store.locks import LOCK_TTL_S, RunLock


def test_the_timer_extends_the_lock_while_nothing_ticks(redis_conn: redis.Redis) -> None:
    lock = RunLock(redis_conn, "t", "PRODUCT", "run-a")
    lock.acquire()
    redis_conn.expire(lock.key, 3)
    with RunControl(lock, extend_every_s=0.05):
        time.sleep(1.3)  # no tick at all: a long Luca list, a Retry-After or settle wait
        assert redis_conn.ttl(lock.key) > LOCK_TTL_S - 5
    redis_conn.expire(lock.key, 3)
    time.sleep(1.3)  # stopped with the run: nothing extends it any more
    assert redis_conn.ttl(lock.key) <= 3


def test_a_lock_taken_over_stops_the_run_at_the_next_tick_once(redis_conn: redis.Redis) -> None:
    lock = RunLock(redis_conn, "t", "PRODUCT", "run-a")
    lock.acquire()
    published: list[dict[str, object]] = []
    with RunControl(lock, published.append, every_s=0.0, extend_every_s=0.05) as control:
        redis_conn.set(lock.key, "run-b")
        time.sleep(1.3)
        with pytest.raises(RunAborted, match="run run-b holds it"):
            control.tick()
        control.tick()  # reported once
        with pytest.raises(RunAborted):
            control.alive()  # and no Luca write is let through
        control.set_phase("failed", error="lost the lock")
    assert published[-1]["phase"] == "failed"


def test_progress_is_published_from_the_tracked_counters() -> None:
    published: list[dict[str, object]] = []
    control = RunControl(None, published.append, every_s=60.0)
    counters = control.track(3)
    counters.add("created")
    control.set_phase("syncing", batches=1)
    control.tick()  # within every_s: not published again
    assert len(published) == 1
    assert {k: published[0][k] for k in ("phase", "total", "processed", "created", "batches")} == {
        "phase": "syncing", "total": 3, "processed": 1, "created": 1, "batches": 1,
    }  # fmt: skip
    with pytest.raises(ValueError, match="unknown phase 'finishing'"):
        control.set_phase("finishing")
