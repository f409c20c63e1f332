"""Issue #12: no pending webhook event is lost when a drain is SIGKILLed or Redis restarts.

Both scenarios deliver signed Katana events to the real web process (gunicorn), so they land in
the PRODUCT pending set and queue a drain exactly as in production. A killed drain leaves its
taken refs in ``...:inflight``; RQ retries the abandoned job (see test_worker_kill.py for how),
and the retry takes them again. A Redis that shuts down (append-only file fsynced) and comes
back keeps the pending set, the in-flight set and the queued drain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import time
from collections.abc import Callable

import pytest
import requests

from sandbox.testing import Sandbox
from syncsvc.domain.convert import canonical_code
from syncsvc.store.pending import PendingEvents
from tests.integration.engine_helpers import katana_list, luca_records
from tests.reliability import figures
from tests.reliability.stack import PrivateRedis, Service, kill

TOKEN = "reliability-webhook-token"
PRICE = 4444.25
pytestmark = pytest.mark.timeout(900)


def deliver(svc: Service, variant_id: int) -> None:
    body = json.dumps({"resource_type": "variant", "action": "variant.updated", "webhook_id": 1,
                       "object": {"id": variant_id, "status": None}}).encode()  # fmt: skip
    sig = hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
    resp = requests.post(f"{svc.url}/api/webhooks/katana", data=body, timeout=10,
                         headers={"Content-Type": "application/json", "x-sha2-signature": sig})  # fmt: skip
    assert resp.status_code == 200, resp.text


def prepare(sb: Sandbox, svc: Service, count: int) -> list[dict[str, object]]:
    """Luca holds the catalogue; ``count`` variants then change in Katana (no webhook of its own)."""
    svc.wait_job(svc.start_sync("PRODUCT", mode="full"), timeout=300)
    cards = {r["kartKodu"] for r in luca_records(sb, "stock_cards")}
    victims = [v for v in katana_list(sb, "variants") if v.get("sku") and canonical_code(v["sku"]) in cards][:count]
    for v in victims:
        sb.admin("katana", "PATCH", f"variants/{v['id']}", {"sales_price": PRICE})
    return victims


def wait_synced(sb: Sandbox, victims: list[dict[str, object]], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    missing = len(victims)
    while time.monotonic() < deadline:
        held = {r["kartKodu"]: r for r in luca_records(sb, "stock_cards")}
        missing = sum(
            1 for v in victims if float(held[canonical_code(str(v["sku"]))]["perakendeSatisBirimFiyat"]) != PRICE
        )
        if not missing:
            return 0
        time.sleep(1)
    return missing


def test_sigkill_during_a_drain_loses_no_event(
    make_sandbox: Callable[..., Sandbox], make_service: Callable[..., Service], private_redis: PrivateRedis
) -> None:
    sb = make_sandbox("--products", "120", "--variants-per-product", "1-1")
    svc = make_service(sb, workers=1, KATANA_WEBHOOK_TOKEN=TOKEN)
    victims = prepare(sb, svc, 60)
    sb.admin("luca", "POST", "faults", {"latency_ms": 400, "faults": {}})  # the drain is mid-flight when killed
    for v in victims:
        deliver(svc, int(v["id"]))  # type: ignore[call-overload]
    pending = PendingEvents(private_redis.client(), "rel", "PRODUCT")
    deadline = time.monotonic() + 60
    while not private_redis.client().exists(pending.inflight_key) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # a few writes done, most not
    kill(svc.workers[0], signal.SIGKILL)
    svc.workers[0].proc.wait(timeout=10)
    killed = time.monotonic()
    assert pending.size() > 0  # what the killed drain took is still in flight, not gone
    sb.admin("luca", "POST", "faults", {"latency_ms": 10, "faults": {}})
    svc.add_worker()
    missing = wait_synced(sb, victims, timeout=400)
    figures.record("webhook drain SIGKILLed", items=len(victims), kills=1, lost=missing,
                   seconds=round(time.monotonic() - killed))  # fmt: skip
    assert missing == 0
    deadline = time.monotonic() + 60
    while pending.size() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert pending.size() == 0


def test_redis_restart_keeps_pending_events(
    make_sandbox: Callable[..., Sandbox], make_service: Callable[..., Service], private_redis: PrivateRedis
) -> None:
    sb = make_sandbox("--products", "80", "--variants-per-product", "1-1")
    svc = make_service(sb, workers=1, KATANA_WEBHOOK_TOKEN=TOKEN)
    victims = prepare(sb, svc, 30)
    # No worker while the events arrive: they wait in Redis with one queued drain.
    kill(svc.workers[0], signal.SIGTERM)
    svc.workers[0].proc.wait(timeout=60)
    for v in victims:
        deliver(svc, int(v["id"]))  # type: ignore[call-overload]
    pending = PendingEvents(private_redis.client(), "rel", "PRODUCT")
    assert pending.size() == len(victims) and pending.queued_drain()
    private_redis.shutdown()  # fsyncs the append-only file
    private_redis.start()
    assert PendingEvents(private_redis.client(), "rel", "PRODUCT").size() == len(victims)
    restarted = time.monotonic()
    svc.add_worker()
    missing = wait_synced(sb, victims, timeout=300)
    figures.record("Redis restart, pending webhook events", items=len(victims), lost=missing,
                   seconds=round(time.monotonic() - restarted))  # fmt: skip
    assert missing == 0
