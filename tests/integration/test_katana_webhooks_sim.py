"""The Katana simulator's webhooks over loopback HTTP: registration, signed deliveries, retries, faults."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.testing import Sandbox
from tests.webhook_receiver import Receiver

KEY = "demo-katana-key"


class Hooks:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {KEY}"

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.http.request(method, f"{self.sb.katana_url}/v1/{path}", json=body, timeout=10)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        return self.sb.admin("katana", method, path, body)

    def register(self, url: str, events: list[str]) -> dict[str, Any]:
        resp = self.call("POST", "webhooks", {"url": url, "subscribed_events": events})
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def a_variant(self) -> dict[str, Any]:
        resp = self.http.get(f"{self.sb.katana_url}/v1/variants", params={"limit": 1}, timeout=10)
        return dict(resp.json()["data"][0])


@pytest.fixture
def hooks(sandbox_session: Sandbox) -> Iterator[Hooks]:
    sandbox_session.admin("katana", "POST", "reset", {})
    sandbox_session.admin("katana", "POST", "faults", {"rate_limit": "1000/60", "webhook_retry_scale": 0.001})
    h = Hooks(sandbox_session)
    yield h
    h.http.close()
    sandbox_session.admin("katana", "POST", "reset", {})


def test_register_list_patch_delete(hooks: Hooks) -> None:
    hook = hooks.register("https://example.com/katana", ["product.updated", "variant.updated"])
    assert len(hook["token"]) == 16 and int(hook["token"], 16) >= 0
    assert hook["enabled"] is True and hook["subscribed_events"] == ["product.updated", "variant.updated"]
    listed = hooks.call("GET", "webhooks").json()["data"]
    assert [h["id"] for h in listed] == [hook["id"]]
    patched = hooks.call("PATCH", f"webhooks/{hook['id']}", {"enabled": False}).json()
    assert patched["enabled"] is False and patched["token"] == hook["token"]
    assert hooks.call("GET", f"webhooks/{hook['id']}").json()["enabled"] is False
    assert hooks.call("DELETE", f"webhooks/{hook['id']}").status_code == 204
    assert hooks.call("GET", f"webhooks/{hook['id']}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://example.com/x", "subscribed_events": ["sales_order.status_changed"]},  # origin's invention
        {"url": "http://example.com/x", "subscribed_events": ["product.updated"]},  # not https
        {"url": "https://example.com/x", "subscribed_events": []},
        {"url": "https://example.com/x", "subscribed_events": ["product.updated"], "secret": "x"},
        {"subscribed_events": ["product.updated"]},
    ],
)
def test_invalid_registrations_get_422(hooks: Hooks, body: dict[str, Any]) -> None:
    resp = hooks.call("POST", "webhooks", body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == "VALIDATION_FAILED"
    assert hooks.call("GET", "webhooks").json()["data"] == []


def test_change_sends_signed_thin_payload(hooks: Hooks) -> None:
    with Receiver() as rx:
        hook = hooks.register(rx.url, ["variant.updated"])
        variant = hooks.a_variant()
        hooks.admin("PATCH", f"variants/{variant['id']}", {"sales_price": 99.5})
        (got,) = rx.wait_for(1)
        time.sleep(0.2)
        assert len(rx.got) == 1
    expected = hmac.new(hook["token"].encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-sha2-signature"] == expected
    assert "x-katana-retry-num" not in got.headers
    payload = json.loads(got.body)
    assert payload["resource_type"] == "variant" and payload["action"] == "variant.updated"
    assert payload["webhook_id"] == hook["id"]
    assert payload["object"]["id"] == variant["id"]
    assert payload["object"]["href"].endswith(f"/v1/variants/{variant['id']}")


def test_delivery_sends_updated_and_delivered_and_deleted_has_no_href(hooks: Hooks) -> None:
    orders = hooks.http.get(f"{hooks.sb.katana_url}/v1/sales_orders", params={"status": "NOT_SHIPPED"}).json()
    so = orders["data"][0]
    with Receiver() as rx:
        hooks.register(rx.url, ["sales_order.updated", "sales_order.delivered", "sales_order.deleted"])
        hooks.admin("POST", f"sales_orders/{so['id']}/deliver")
        hooks.admin("DELETE", f"sales_orders/{so['id']}")
        got = rx.wait_for(3)
    payloads = sorted((json.loads(g.body) for g in got), key=lambda p: str(p["action"]))
    assert [p["action"] for p in payloads] == ["sales_order.deleted", "sales_order.delivered", "sales_order.updated"]
    assert payloads[1]["object"]["status"] == "DELIVERED"
    assert "href" not in payloads[0]["object"] and "href" in payloads[2]["object"]


def test_failed_deliveries_retry_three_times_with_retry_num(hooks: Hooks) -> None:
    with Receiver(status=500) as rx:
        hooks.register(rx.url, ["product.updated"])
        product = hooks.http.get(f"{hooks.sb.katana_url}/v1/products", params={"limit": 1}).json()["data"][0]
        hooks.admin("PATCH", f"products/{product['id']}", {"category_name": "Yeni"})
        got = rx.wait_for(4, timeout=15)
        time.sleep(0.5)
        assert len(rx.got) == 4
    assert [g.headers.get("x-katana-retry-num") for g in got] == [None, "1", "2", "3"]
    assert len({g.body for g in got}) == 1
    gaps = [b.at - a.at for a, b in zip(got, got[1:], strict=False)]
    # 30 s / 2 min / 15 min scaled by 0.001: growing waits, the last near 0.9 s.
    assert gaps[2] > gaps[0] and 0.85 <= gaps[2] < 3
    log = hooks.admin("GET", "webhook_deliveries")["deliveries"]
    assert [e["retry_num"] for e in log] == [0, 1, 2, 3] and {e["status"] for e in log} == {500}


def test_drop_duplicate_and_delay_faults(hooks: Hooks) -> None:
    with Receiver() as rx:
        hooks.register(rx.url, ["variant.updated"])
        variant = hooks.a_variant()
        hooks.admin("POST", "faults", {"webhook_drop": 1.0})
        hooks.admin("PATCH", f"variants/{variant['id']}", {"sales_price": 1})
        time.sleep(0.3)
        assert rx.got == []
        hooks.admin("POST", "faults", {"webhook_drop": 0.0, "webhook_duplicate": 1.0, "webhook_delay_ms": 400})
        changed = time.time()
        hooks.admin("PATCH", f"variants/{variant['id']}", {"sales_price": 2})
        got = rx.wait_for(2)
    assert len(got) == 2 and got[0].body == got[1].body
    assert min(g.at for g in got) - changed >= 0.35
    log = hooks.admin("GET", "webhook_deliveries")["deliveries"]
    assert [e["dropped"] for e in log] == [True, False, False]


def test_public_api_writes_notify_too(hooks: Hooks) -> None:
    with Receiver() as rx:
        hooks.register(rx.url, ["product.created", "variant.created"])
        resp = hooks.call("POST", "products", {"name": "Webhook Ürünü", "variants": [{"sku": "WH-1"}, {"sku": "WH-2"}]})
        assert resp.status_code == 200, resp.text
        got = rx.wait_for(3)
    assert sorted(json.loads(g.body)["action"] for g in got) == [
        "product.created",
        "variant.created",
        "variant.created",
    ]
