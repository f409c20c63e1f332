"""The upsert rules, deterministically: a lost create reply is looked up, never re-sent."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from jobs.engine import ItemState
from jobs.upserts import Upserts
from syncsvc.domain.errors import AlreadyExists, TransientError
from syncsvc.domain.model import Plan
from syncsvc.store.cache import IdCache


class FakeLuca:
    """Commits every create; the first one's reply is "lost" (raises TransientError)."""

    def __init__(self) -> None:
        self.records: dict[str, int] = {}
        self.creates = 0
        self.updates = 0
        self.lose_next_reply = True

    def _create(self, key: str) -> int:
        self.creates += 1
        if key in self.records:
            raise AlreadyExists("Kart kodu daha önce kullanılmış")
        self.records[key] = 100 + len(self.records)
        if self.lose_next_reply:
            self.lose_next_reply = False
            raise TransientError("reply lost after commit")
        return self.records[key]

    def find(self, key: str) -> int | None:
        return self.records.get(key)

    def create_stock_card(self, payload: dict[str, Any]) -> int:
        return self._create(payload["kartKodu"])

    def create_customer(self, payload: dict[str, Any]) -> int:
        return self._create(payload["kartKod"])

    def create_invoice(self, payload: dict[str, Any]) -> int:
        self.creates += 1  # invoices: no server-side guard, a resend WOULD duplicate
        key = payload["belgeTakipNo"]
        self.records[f"{key}#{self.creates}"] = self.creates
        self.records.setdefault(key, self.creates)
        if self.lose_next_reply:
            self.lose_next_reply = False
            raise TransientError("reply lost after commit")
        return self.records[key]

    def update_stock_card(self, skart_id: int, payload: dict[str, Any]) -> None:
        self.updates += 1

    find_stock_card = find_customer = find_invoice = find


@pytest.fixture
def upserts(redis_conn: redis.Redis) -> tuple[Upserts, FakeLuca]:
    fake = FakeLuca()

    def cache(kind: str) -> IdCache:
        return IdCache(redis_conn, "t", kind, 3600)

    return Upserts(fake, cache("stockcard"), cache("customer"), cache("invoice")), fake  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "field"), [("stock_card", "kartKodu"), ("customer", "kartKod"), ("invoice", "belgeTakipNo")]
)
def test_lost_reply_is_found_not_resent(upserts: tuple[Upserts, FakeLuca], method: str, field: str) -> None:
    handlers, fake = upserts
    plan = Plan.of("K-1", {field: "K-1"})
    state = ItemState()
    with pytest.raises(TransientError):
        getattr(handlers, method)(plan, state)
    assert state.create_sent
    done = getattr(handlers, method)(plan, state)  # the engine's next attempt
    assert done.outcome == "created" and "not re-sent" in (done.message or "")
    assert fake.creates == 1
    again = getattr(handlers, method)(plan, ItemState())  # next run: unchanged -> skipped, no write
    assert again.outcome == "skipped" and fake.creates == 1


def test_existing_card_without_digest_is_adopted_and_aligned(upserts: tuple[Upserts, FakeLuca]) -> None:
    handlers, fake = upserts
    fake.records["K-2"] = 7  # created outside this service
    fake.lose_next_reply = False
    done = handlers.stock_card(Plan.of("K-2", {"kartKodu": "K-2"}), ItemState())
    assert (done.outcome, done.luca_id, fake.updates) == ("adopted", 7, 1)
