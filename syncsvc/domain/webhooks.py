"""Katana webhook deliveries: signature check and what a payload asks us to sync. No I/O.

Katana signs each delivery with ``x-sha2-signature`` = hex HMAC-SHA256 of the raw body, keyed
with the webhook's token (spec §3); the body is a thin notification
``{resource_type, action, webhook_id, object:{id, status, href}}``, so we only learn *which*
record changed and re-fetch it. Events map to sync types:

* ``product.*``, ``material.*``, ``variant.*`` -> PRODUCT (the record's variants);
* ``sales_order.delivered`` and ``sales_order.updated``/``.deleted`` of an order whose status is
  invoiceable -> INVOICE (its customer and cards are ensured by the run);
* everything else is acknowledged and ignored (customers have no webhooks: polled instead).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


class BadDelivery(ValueError):
    """The body is not a Katana webhook payload; the message says what is wrong."""


@dataclass(frozen=True)
class Event:
    action: str
    object_id: int
    status: str | None
    sync_type: str | None  # None: not an event we sync
    ref: str | None  # the Katana record to re-fetch (``variant:5``, ``order:9``)


def signature_ok(body: bytes, header: str | None, tokens: Iterable[str]) -> bool:
    """True when ``header`` is the HMAC of ``body`` under any of ``tokens`` (rotation: old and
    new both valid for a while). Constant-time; an optional ``sha256=`` prefix is accepted."""
    if not header:
        return False
    presented = header.strip()
    if presented.lower().startswith("sha256="):
        presented = presented[7:]
    presented_bytes = presented.lower().encode("ascii", "replace")
    ok = False
    for token in tokens:
        expected = hmac.new(token.encode("utf-8"), body, hashlib.sha256).hexdigest().encode("ascii")
        # Every token is compared (no early exit): the time taken does not say which one matched.
        ok |= hmac.compare_digest(expected, presented_bytes)
    return ok


def _object_id(value: Any) -> int:
    if isinstance(value, bool):
        raise BadDelivery("object.id must be a number")
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and 0 < len(value) <= 15:
        return int(value)
    raise BadDelivery("object.id must be a positive integer (a number or a string of digits)")


def parse_event(body: bytes, invoice_statuses: Iterable[str]) -> Event:
    """What one delivery says. Raises :class:`BadDelivery` for anything that is not a payload."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadDelivery("body is not JSON") from None
    if not isinstance(data, dict):
        raise BadDelivery("body must be a JSON object")
    action = data.get("action")
    obj = data.get("object")
    if not isinstance(action, str) or "." not in action or len(action) > 100:
        raise BadDelivery("action must be an event name such as product.updated")
    if not isinstance(obj, dict):
        raise BadDelivery("object must be an object with an id")
    object_id = _object_id(obj.get("id"))
    status = obj.get("status") if isinstance(obj.get("status"), str) else None
    resource, _, verb = action.partition(".")
    if resource in ("product", "material", "variant"):
        return Event(action, object_id, status, "PRODUCT", f"{resource}:{object_id}")
    if resource == "sales_order":
        statuses = set(invoice_statuses)
        delivered = verb == "delivered" or (verb in ("updated", "deleted") and status in statuses)
        if delivered:
            return Event(action, object_id, status, "INVOICE", f"order:{object_id}")
    return Event(action, object_id, status, None, None)


SUBSCRIBED_EVENTS = (
    "product.created", "product.updated", "product.deleted",
    "material.created", "material.updated", "material.deleted",
    "variant.created", "variant.updated", "variant.deleted",
    "sales_order.updated", "sales_order.delivered", "sales_order.deleted",
)  # fmt: skip
"""What ``syncsvc webhooks register`` subscribes to."""
