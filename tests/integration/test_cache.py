"""Redis id caches: warm-up guard, and the per-key creation claim that prevents cross-run duplicates."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from syncsvc.domain.errors import RunAborted
from syncsvc.store.cache import IdCache


@pytest.fixture
def cache(redis_conn: redis.Redis) -> IdCache:
    return IdCache(redis_conn, "t", "customer", 3600)


def test_warm_up_replaces_ids_keeps_matching_digests_and_refuses_an_empty_list(cache: IdCache) -> None:
    cache.put("KTN-1", 10, "d1")
    cache.put("KTN-2", 20, "d2")
    assert cache.warm(lambda: {"KTN-1": 10, "KTN-2": 21, "KTN-3": 30}) == {"entries": 3, "dropped": 1}
    assert cache.lookup("KTN-1") == (10, "d1")
    assert cache.lookup("KTN-2") == (21, None)  # re-created by a person: content unknown again
    assert cache.status()["message"] == "Healthy: 3 entries cached"
    with pytest.raises(RunAborted, match="refusing"):
        cache.warm(dict)


def test_a_record_cached_while_luca_lists_survives_the_warm_up(cache: IdCache) -> None:
    cache.put("KTN-1", 10, "d1")
    cache.put("KTN-9", 90, "d9")  # deleted in Luca: dropped

    def listing() -> dict[str, int]:
        # Another run creates KTN-2 and caches it after Luca's list was read: not in the list.
        cache.put("KTN-2", 20, "d2")
        return {"KTN-1": 10}

    assert cache.warm(listing) == {"entries": 1, "dropped": 1}
    assert cache.lookup("KTN-2") == (20, "d2")
    assert cache.lookup("KTN-9") == (None, None)
    assert cache.lookup("KTN-1") == (10, "d1")


def test_second_creator_waits_and_sees_the_first_ones_record(cache: IdCache) -> None:
    seen: list[tuple[int | None, bool]] = []
    inside = threading.Event()

    def first() -> None:
        with cache.creating("KTN-9", owner="run-a") as claim:
            inside.set()
            time.sleep(0.3)
            claim.record(99, "d")

    t = threading.Thread(target=first)
    t.start()
    inside.wait()
    with cache.creating("KTN-9", owner="run-b") as claim:
        seen.append((claim.luca_id, claim.must_look_up))
    t.join()
    assert seen == [(99, True)]


def test_an_interrupted_create_makes_the_next_holder_look_up(cache: IdCache) -> None:
    with pytest.raises(TimeoutError), cache.creating("KTN-5", owner="run-a"):
        raise TimeoutError("reply lost: the create may have been committed")
    with cache.creating("KTN-5", owner="run-b") as claim:
        assert claim.luca_id is None and claim.must_look_up
        claim.record(55, "d")
    with cache.creating("KTN-5", owner="run-c") as claim:
        assert (claim.luca_id, claim.must_look_up) == (55, False)


def test_a_run_takes_over_its_own_dead_claim_at_once(cache: IdCache, redis_conn: redis.Redis) -> None:
    redis_conn.set("t:luca:customer:creating:KTN-7", "run-a:dead-attempt", px=120_000)
    started = time.monotonic()
    with cache.creating("KTN-7", owner="run-a") as claim:
        assert claim.must_look_up
    assert time.monotonic() - started < 0.5
    redis_conn.set("t:luca:customer:creating:KTN-7", "run-x:alive", px=300)
    started = time.monotonic()
    with cache.creating("KTN-7", owner="run-a"):  # somebody else's claim: wait for it
        assert time.monotonic() - started >= 0.25


def test_the_snapshot_answers_unchanged_only_for_the_same_content(cache: IdCache) -> None:
    cache.put("KTN-1", 10, "d1")
    cache.put("KTN-2", 20, "d2")
    cache.put("KTN-3", 30, "d3")
    cache.prefetch(["KTN-1", "KTN-2", "KTN-3", "KTN-4"])
    assert cache.unchanged("KTN-1", "d1") == 10
    assert cache.unchanged("KTN-2", "changed") is None
    assert cache.unchanged("KTN-4", "d4") is None  # not in Luca yet
    cache.put("KTN-1", 10, "d1-newer")  # used up: a later look-up reads Redis again
    assert cache.lookup("KTN-1") == (10, "d1-newer")
    assert cache.lookup("KTN-2") == (20, "d2")  # left for the handler's look-up, from the snapshot
    cache.put("KTN-3", 31, "d3")
    assert cache.lookup("KTN-3") == (30, "d3")  # snapshot, taken by neither
