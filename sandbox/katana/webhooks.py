"""Katana webhooks: registrations (``/v1/webhooks``) and signed deliveries with retries and faults.

What the real service does (spec §3) and the simulator copies:
- a registration ``{id, url, token, enabled, description, subscribed_events, created_at,
  updated_at}`` gets a 16-hex ``token``; only Katana's real event names are accepted;
- a matching change POSTs ``{resource_type, action, webhook_id, object:{id, status, href}}``
  (no ``href`` on ``sales_order.deleted``) with ``x-sha2-signature`` = hex HMAC-SHA256 of the raw
  body keyed with the token;
- the receiver has 10 s to answer 2xx; otherwise the delivery is retried 3 more times after
  30 s, 2 min and 15 min, each retry carrying ``X-Katana-Retry-Num`` 1..3, then given up.

Choices where the spec is silent: ``object.status`` is the sales order's status and null for
items and variants; deleting an item also sends ``variant.deleted`` for each variant it took
with it; ``object.id`` and ``webhook_id`` are JSON numbers.

Test knobs (``POST /_admin/faults``): ``webhook_retry_scale`` compresses the retry schedule
(0.001 turns 30/120/900 s into 30/120/900 ms), ``webhook_drop`` loses deliveries (never sent, as
during an outage nobody noticed), ``webhook_duplicate`` sends a delivery twice,
``webhook_delay_ms`` holds every delivery back. Every attempt is in the delivery log
(``GET /_admin/webhook_deliveries``).

The dispatcher thread and the sender pool start lazily on the first delivery: the simulator is
built in gunicorn's worker after the fork, and threads do not survive a fork.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import requests

from sandbox.katana.clock import SimClock
from sandbox.katana.faults import Faults

Record = dict[str, Any]

_ITEM_EVENTS = [f"{r}.{a}" for r in ("product", "material", "variant", "product_recipe_row")
                for a in ("created", "updated", "deleted")]  # fmt: skip
EVENTS: frozenset[str] = frozenset(
    [
        *(f"sales_order.{a}" for a in ("created", "updated", "deleted", "packed", "delivered",
                                        "availability_updated", "approved")),
        *(f"purchase_order.{a}" for a in ("created", "updated", "deleted", "partially_received", "received",
                                           "approved")),
        *(f"purchase_order_row.{a}" for a in ("created", "updated", "deleted", "received")),
        *(f"manufacturing_order.{a}" for a in ("created", "updated", "deleted", "in_progress", "blocked", "done")),
        *(f"manufacturing_order_operation_row.{a}" for a in ("created", "updated", "deleted", "in_progress",
                                                              "paused", "blocked", "completed")),
        *(f"manufacturing_order_recipe_row.{a}" for a in ("created", "updated", "deleted",
                                                           "ingredients_in_stock")),
        *(f"current_inventory.{a}" for a in ("product_updated", "material_updated", "product_out_of_stock",
                                              "material_out_of_stock")),
        *_ITEM_EVENTS,
        *(f"outsourced_purchase_order.{a}" for a in ("created", "updated", "deleted", "received")),
        *(f"outsourced_purchase_order_row.{a}" for a in ("created", "updated", "deleted", "received")),
        *(f"outsourced_purchase_order_recipe_row.{a}" for a in ("created", "updated", "deleted")),
    ]
)  # fmt: skip
"""Katana's event names (developer docs' webhook table plus the two ``*.approved`` of the enum)."""

RETRY_SCHEDULE_S = (30.0, 120.0, 900.0)
"""Seconds before retries 1, 2 and 3 (Katana: "30 s or more", "2 min or more", "15 min or more")."""
DELIVERY_TIMEOUT_S = 10.0
"""The receiver must answer within 10 s; a slower answer counts as a failure and is retried."""
LOG_SIZE = 50_000
COLLECTIONS = {"product": "products", "material": "materials", "variant": "variants", "sales_order": "sales_orders"}


def sign(token: str, body: bytes) -> str:
    """``x-sha2-signature``: hex HMAC-SHA256 of the raw body, keyed with the webhook token."""
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def url_problem(url: Any) -> str | None:
    """Katana wants https; plain http is accepted for loopback receivers only (tests, demo)."""
    if not isinstance(url, str) or not url:
        return "url must be a string"
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return None
    return "url must be an https URL"


def events_problem(events: Any) -> str | None:
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        return "subscribed_events must be a non-empty list of event names"
    unknown = sorted(set(events) - EVENTS)
    return f"unknown events: {unknown}" if unknown else None


@dataclass(frozen=True)
class Delivery:
    seq: int
    webhook_id: int
    url: str
    token: str
    action: str
    object_id: int
    body: bytes
    attempt: int = 0  # 0 = first try, 1..3 = the X-Katana-Retry-Num of a retry
    copy: int = 0  # 1 for the extra copy sent by the duplicate fault
    created: float = 0.0  # time.time() of the change


class WebhookHub:
    def __init__(self, clock: SimClock, faults: Callable[[], Faults], seed: int) -> None:
        self.clock = clock
        self.faults = faults
        self.rng = random.Random(seed + 1)
        self.lock = threading.Condition()
        self.hooks: dict[int, Record] = {}
        self.public_url = "https://api.katanamrp.com"
        self.log: deque[Record] = deque(maxlen=LOG_SIZE)
        self.log_index = 0
        self.in_flight = 0
        self._heap: list[tuple[float, int, Delivery]] = []
        self._seq = 0
        self._generation = 0
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    # -- registrations -----------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.hooks.clear()
            self._heap.clear()
            self.log.clear()
            self.log_index = 0
            self._generation += 1  # sends still in flight are not logged

    def create(self, body: Record) -> Record:
        with self.lock:
            now = self.clock.now_iso()
            hook_id = max(self.hooks, default=0) + 1
            hook: Record = {
                "id": hook_id,
                "url": body["url"],
                "token": secrets.token_hex(8),
                "enabled": True,
                "description": body.get("description"),
                "subscribed_events": list(dict.fromkeys(body["subscribed_events"])),
                "created_at": now,
                "updated_at": now,
            }
            self.hooks[hook_id] = hook
            return hook

    def patch(self, hook_id: int, body: Record) -> Record | None:
        with self.lock:
            hook = self.hooks.get(hook_id)
            if hook is None:
                return None
            hook.update(body)
            if "subscribed_events" in body:
                hook["subscribed_events"] = list(dict.fromkeys(body["subscribed_events"]))
            hook["updated_at"] = self.clock.now_iso()
            return hook

    def delete(self, hook_id: int) -> bool:
        with self.lock:
            return self.hooks.pop(hook_id, None) is not None

    # -- events ------------------------------------------------------------------------------------
    def emit(self, resource_type: str, action: str, record: Record) -> None:
        """A change happened: queue one delivery per enabled webhook subscribed to ``action``."""
        if action not in EVENTS:
            return
        obj: Record = {"id": record["id"], "status": record.get("status") if resource_type == "sales_order" else None}
        if action not in ("sales_order.deleted", "product_recipe_row.deleted"):
            obj["href"] = f"{self.public_url}/v1/{COLLECTIONS.get(resource_type, resource_type + 's')}/{record['id']}"
        faults = self.faults()
        with self.lock:
            hooks = [h for h in self.hooks.values() if h["enabled"] and action in h["subscribed_events"]]
            for hook in hooks:
                payload = {"resource_type": resource_type, "action": action, "webhook_id": hook["id"], "object": obj}
                body = json.dumps(payload, separators=(",", ":")).encode()
                self._seq += 1
                delivery = Delivery(self._seq, hook["id"], hook["url"], hook["token"], action, int(record["id"]),
                                    body, created=time.time())  # fmt: skip
                if faults.webhook_drop and self.rng.random() < faults.webhook_drop:
                    self._record(delivery, status=None, error="dropped (fault)", dropped=True)
                    continue
                due = time.monotonic() + faults.webhook_delay_ms / 1000
                self._push(due, delivery)
                if faults.webhook_duplicate and self.rng.random() < faults.webhook_duplicate:
                    self._push(due, replace(delivery, copy=1))

    def _push(self, due: float, delivery: Delivery) -> None:
        heapq.heappush(self._heap, (due, delivery.seq * 10 + delivery.copy, delivery))
        self._start()
        self.lock.notify()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._pool = ThreadPoolExecutor(32, thread_name_prefix="katana-webhook")
            self._thread = threading.Thread(target=self._dispatch, daemon=True, name="katana-webhooks")
            self._thread.start()

    def _dispatch(self) -> None:
        while True:
            with self.lock:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self.lock.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                _, _, delivery = heapq.heappop(self._heap)
                self.in_flight += 1
                generation = self._generation
            assert self._pool is not None
            self._pool.submit(self._send, delivery, generation)

    def _send(self, delivery: Delivery, generation: int) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Katana-Webhooks (simulator)",
            "x-sha2-signature": sign(delivery.token, delivery.body),
        }
        if delivery.attempt:
            headers["X-Katana-Retry-Num"] = str(delivery.attempt)
        status: int | None = None
        error: str | None = None
        started = time.monotonic()
        try:
            resp = requests.post(delivery.url, data=delivery.body, headers=headers, timeout=DELIVERY_TIMEOUT_S)
            status = resp.status_code
            resp.close()
        except requests.RequestException as exc:
            error = type(exc).__name__
        elapsed = time.monotonic() - started
        with self.lock:
            self.in_flight -= 1
            if generation != self._generation:
                return
            ok = status is not None and 200 <= status < 300
            self._record(delivery, status=status, error=error, duration_ms=round(elapsed * 1000, 1))
            if not ok and delivery.attempt < len(RETRY_SCHEDULE_S):
                scale = self.faults().webhook_retry_scale
                due = time.monotonic() + RETRY_SCHEDULE_S[delivery.attempt] * scale
                self._push(due, replace(delivery, attempt=delivery.attempt + 1))

    def _record(self, delivery: Delivery, *, status: int | None, error: str | None, dropped: bool = False,
                duration_ms: float | None = None) -> None:  # fmt: skip
        self.log.append(
            {
                "index": self.log_index,
                "seq": delivery.seq,
                "webhook_id": delivery.webhook_id,
                "action": delivery.action,
                "object_id": delivery.object_id,
                "retry_num": delivery.attempt,
                "duplicate": bool(delivery.copy),
                "dropped": dropped,
                "status": status,
                "error": error,
                "duration_ms": duration_ms,
                "changed_at": delivery.created,
                "sent_at": time.time(),
            }
        )
        self.log_index += 1

    def deliveries(self, since: int = 0) -> Record:
        with self.lock:
            entries = [e for e in self.log if e["index"] >= since]
            return {"deliveries": entries, "next_index": self.log_index, "pending": len(self._heap),
                    "in_flight": self.in_flight}  # fmt: skip
