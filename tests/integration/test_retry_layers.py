"""Each client retries its reads (syncsvc/domain/retry.py): counted against the
simulators' own logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sandbox.testing import Sandbox
from syncsvc.clients.budget import KatanaBudget
from syncsvc.clients.katana import KatanaClient
from syncsvc.clients.luca import LucaClient
from syncsvc.defaults import KATANA_TRANSIENT_TRIES, LUCA_LOOKUP_TRIES, LUCA_READ_TRIES
from syncsvc.domain.errors import TransientError, Unavailable
from tests.integration.engine_helpers import engine_settings


@pytest.fixture
def luca(sandbox: Sandbox, redis_url: str, redis_conn: redis.Redis, tmp_path: Path) -> Iterator[LucaClient]:
    client = LucaClient(engine_settings(sandbox, redis_url, tmp_path), redis_conn)
    client.units()  # logged in before the faults are armed
    yield client
    client.close()


def _lists(sandbox: Sandbox) -> int:
    return len(sandbox.admin("luca", "GET", "requests", action="ListeleStkSkart"))


def test_luca_reads_are_retried_by_the_client_look_ups_briefly(luca: LucaClient, sandbox: Sandbox) -> None:
    sandbox.admin("luca", "POST", "faults", {"faults": {"reset": {"every": 1, "actions": ["ListeleStkSkart"]}}})
    before = _lists(sandbox)
    with pytest.raises(TransientError):
        luca.find_stock_card("KTN-1")  # made for one item: the engine retries the item as well
    assert _lists(sandbox) - before == LUCA_LOOKUP_TRIES
    with pytest.raises(TransientError):
        luca.stock_cards()  # a warm-up read
    assert _lists(sandbox) - before == LUCA_LOOKUP_TRIES + LUCA_READ_TRIES


def test_a_katana_page_is_retried_then_fails_the_fetch(sandbox: Sandbox, redis_conn: redis.Redis) -> None:
    sandbox.admin("katana", "POST", "faults", {"random_500": 1.0})
    budget = KatanaBudget(redis_conn, "t", "demo-katana-key", 60, 60)
    client = KatanaClient(f"{sandbox.katana_url}/v1", "demo-katana-key", budget, timeout_s=10)
    try:
        with pytest.raises(Unavailable, match=f"after {KATANA_TRANSIENT_TRIES} tries"):
            client.list_all("customers")
        assert client.requests_sent == KATANA_TRANSIENT_TRIES
    finally:
        client.close()
