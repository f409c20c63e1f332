"""Katana webhook signature and payload rules (pure)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from syncsvc.domain.webhooks import BadDelivery, parse_event, signature_ok

BODY = b'{"resource_type":"variant","action":"variant.updated","webhook_id":1,"object":{"id":5,"status":null}}'


def sig(token: str, body: bytes = BODY) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def test_signature_accepts_any_configured_token_and_the_sha256_prefix() -> None:
    assert signature_ok(BODY, sig("new-token"), ["old-token", "new-token"])
    assert signature_ok(BODY, "sha256=" + sig("old-token").upper(), ["old-token", "new-token"])


@pytest.mark.parametrize(
    "header", [None, "", "nothex", sig("other-token"), sig("new-token", BODY + b" "), sig("new-token")[:-1]]
)
def test_signature_refuses_wrong_missing_or_other_body(header: str | None) -> None:
    assert not signature_ok(BODY, header, ["new-token"])


def test_no_tokens_means_nothing_verifies() -> None:
    assert not signature_ok(BODY, sig(""), [])


@pytest.mark.parametrize(
    ("action", "status", "sync_type", "ref"),
    [
        ("product.updated", None, "PRODUCT", "product:5"),
        ("material.deleted", None, "PRODUCT", "material:5"),
        ("variant.created", None, "PRODUCT", "variant:5"),
        ("sales_order.delivered", "DELIVERED", "INVOICE", "order:5"),
        ("sales_order.updated", "DELIVERED", "INVOICE", "order:5"),  # an update of a delivered order
        ("sales_order.deleted", "DELIVERED", "INVOICE", "order:5"),
        ("sales_order.updated", "NOT_SHIPPED", None, None),  # not invoiceable (yet)
        ("sales_order.created", "NOT_SHIPPED", None, None),
        ("purchase_order.received", "RECEIVED", None, None),
    ],
)
def test_events_map_to_sync_types(action: str, status: str | None, sync_type: str | None, ref: str | None) -> None:
    body = json.dumps({"resource_type": action.split(".")[0], "action": action, "webhook_id": 3,
                       "object": {"id": "5", "status": status}}).encode()  # fmt: skip
    event = parse_event(body, ("DELIVERED",))
    assert (event.sync_type, event.ref) == (sync_type, ref)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"action": "product.updated"}', "object must be"),
        (b'{"action": 5, "object": {"id": 1}}', "action must be"),
        (b'{"action": "product.updated", "object": {"id": true}}', "object.id"),
        (b'{"action": "product.updated", "object": {"id": "-3"}}', "object.id"),
        (b'{"action": "product.updated", "object": {"id": "\xd9\xa3"}}', "object.id"),
    ],
)
def test_malformed_payloads_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(BadDelivery, match=message):
        parse_event(body, ("DELIVERED",))
