"""The retry policy's numbers (syncsvc/domain/retry.py): one layer per kind of operation, so the
worst case is a sum of layers, not a product. The engine's part runs here with a counting
handler; the clients' parts against the simulators in tests/integration/test_retry_layers.py."""

from __future__ import annotations

import pytest

from jobs.control import RunControl
from jobs.engine import Done, Engine, Item, ItemState, Recorder
from syncsvc.domain.errors import (
    AccessRefused,
    AlreadyRunning,
    BusinessError,
    ConfigError,
    MappingError,
    ReplyTimeout,
    RunAborted,
    SessionExpired,
    TransientError,
    Unavailable,
    is_retryable,
    is_systemic,
    retry_run,
)
from syncsvc.domain.model import Plan
from syncsvc.settings import Settings


def _run(exc: Exception, items: int = 2) -> tuple[int, dict[str, int]]:
    settings = Settings(max_attempts=3, retry_rounds=2, retry_base_s=0.0, retry_max_s=0.0)
    calls = 0

    def handler(plan: Plan, state: ItemState) -> Done:
        nonlocal calls
        calls += 1
        raise exc

    work = [Item(key=f"k{i}", kind="t", plan=Plan.of(f"k{i}", {})) for i in range(items)]
    result = Engine(settings, RunControl(), Recorder(lambda rows: None, 20)).run(work, handler)
    return calls, result.counts


@pytest.mark.parametrize("exc", [TransientError("reset"), ReplyTimeout("slow"), SessionExpired("1001", 1001)])
def test_an_item_is_tried_at_most_attempts_times_rounds(exc: Exception) -> None:
    # The engine's part of the worst case: 3 attempts x (2 + 1) rounds = 9 tries of an item per
    # run; each try's look-up gets LUCA_LOOKUP_TRIES (3) in the client: 27 sends at most.
    calls, counts = _run(exc)
    assert calls == 2 * 3 * 3
    assert counts["failed"] == counts["total"] == 2


@pytest.mark.parametrize("exc", [BusinessError("Birim yok"), MappingError("no unit"), KeyError("bug")])
def test_a_permanent_failure_is_tried_once(exc: Exception) -> None:
    calls, counts = _run(exc)
    assert calls == 2 and counts["failed"] == 2


def test_a_systemic_error_stops_the_run_without_retries() -> None:
    with pytest.raises(AccessRefused):
        _run(AccessRefused("refused"), items=1)


def test_the_tree_decides_each_layer() -> None:
    assert is_retryable(TransientError("x")) and is_retryable(SessionExpired("x", 1001))
    assert not is_retryable(BusinessError("x")) and not is_retryable(Unavailable("x"))
    assert all(is_systemic(e) for e in (ConfigError("x"), RunAborted("x"), AccessRefused("x"), AlreadyRunning("x")))
    assert not is_systemic(TransientError("x"))
    # RQ runs the whole job again only for failures a later attempt can fix.
    import redis

    assert all(retry_run(e) for e in (Unavailable("x"), AlreadyRunning("x"), redis.ConnectionError("blip")))
    assert not any(retry_run(e) for e in (AccessRefused("x"), ConfigError("x"), RunAborted("lock lost"), KeyError()))
