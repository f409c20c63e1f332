"""The Katana client against the simulator: paging, bulk ids, incremental reads, numbers, 404s."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from sandbox.testing import Sandbox
from syncsvc.clients.budget import KatanaBudget
from syncsvc.clients.katana import KatanaClient
from syncsvc.domain.errors import RunAborted
from tests.integration.engine_helpers import katana_list


@pytest.fixture
def client(sandbox: Sandbox, redis_conn: redis.Redis) -> Iterator[KatanaClient]:
    budget = KatanaBudget(redis_conn, "t", "demo-katana-key", 60, 60)
    c = KatanaClient(f"{sandbox.katana_url}/v1", "demo-katana-key", budget, timeout_s=10)
    yield c
    c.close()


def test_pages_to_the_end_and_matches_an_independent_read(client: KatanaClient, sandbox: Sandbox) -> None:
    variants = client.list_all("variants", {"extend": "product_or_material"})
    assert len(variants) == len(katana_list(sandbox, "variants")) > 50
    assert len({v["id"] for v in variants}) == len(variants)
    assert all("name" in v["product_or_material"] for v in variants)


def test_bulk_ids_in_chunks(client: KatanaClient, sandbox: Sandbox) -> None:
    ids = [v["id"] for v in katana_list(sandbox, "variants")][:130]
    got = client.get_by_ids("variants", ids)
    assert sorted(v["id"] for v in got) == sorted(ids)
    assert client.requests_sent == 2  # 100 ids per call, never one request per record


def test_incremental_read_returns_changes_and_tombstones(client: KatanaClient, sandbox: Sandbox) -> None:
    customers = katana_list(sandbox, "customers")
    sandbox.admin("katana", "POST", "clock", {"advance_seconds": 3600})
    since = datetime.now(UTC) + timedelta(minutes=59)
    sandbox.admin("katana", "PATCH", f"customers/{customers[0]['id']}", {"phone": "+90 555 000 0000"})
    sandbox.admin("katana", "DELETE", f"customers/{customers[1]['id']}")
    changed = {c["id"]: c for c in client.list_changed("customers", since, overlap_s=0)}
    assert set(changed) == {customers[0]["id"], customers[1]["id"]}
    assert changed[customers[1]["id"]]["deleted_at"] and changed[customers[0]["id"]]["phone"] == "+90 555 000 0000"


def test_a_page_that_keeps_failing_fails_the_fetch(client: KatanaClient, sandbox: Sandbox) -> None:
    sandbox.admin("katana", "POST", "faults", {"random_500": 1.0})
    with pytest.raises(RunAborted, match="partial"):
        client.list_all("customers")


def test_unknown_path_is_an_error_not_an_empty_list(client: KatanaClient) -> None:
    with pytest.raises(RunAborted, match="404"):
        client.list_all("customers/1")
