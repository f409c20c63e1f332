"""Katana's request budget, shared through Redis by every caller."""

from __future__ import annotations

import threading
import time

import redis

from syncsvc.clients.budget import KatanaBudget


def test_sliding_window_holds_across_threads(redis_conn: redis.Redis) -> None:
    budget = KatanaBudget(redis_conn, "t", "key-a", limit=5, window_s=1.0, margin_s=0.1)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(3):
            budget.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert len(stamps) == 12
    # No 1.1 s span ever holds more than 5 requests.
    for i, start in enumerate(stamps):
        assert sum(1 for s in stamps[i:] if s - start < 1.09) <= 5


def test_keys_have_separate_budgets_and_the_key_is_not_stored(redis_conn: redis.Redis) -> None:
    a = KatanaBudget(redis_conn, "t", "secret-key-a", limit=2, window_s=5.0)
    b = KatanaBudget(redis_conn, "t", "secret-key-b", limit=2, window_s=5.0)
    for _ in range(2):
        a.acquire()
    started = time.monotonic()
    b.acquire()
    assert time.monotonic() - started < 0.2
    assert not any(b"secret" in k for k in redis_conn.keys("*"))


def test_server_cool_down_is_honoured_in_full(redis_conn: redis.Redis) -> None:
    budget = KatanaBudget(redis_conn, "t", "key-c", limit=100, window_s=60.0)
    budget.cool_down(1.0)
    started = time.monotonic()
    budget.acquire()
    assert time.monotonic() - started >= 0.95


def test_long_waits_keep_the_heartbeat_alive(redis_conn: redis.Redis) -> None:
    budget = KatanaBudget(redis_conn, "t", "key-d", limit=1, window_s=3.0, margin_s=0.0)
    budget.acquire()
    beats: list[float] = []
    budget.acquire(on_wait=lambda: beats.append(time.monotonic()))
    assert len(beats) >= 2  # a 3 s wait is slept in slices, each followed by a heartbeat
