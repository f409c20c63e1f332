"""POST /api/webhooks/katana and the coalescing drain, against real Redis and the simulators."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import SimpleWorker
from werkzeug.serving import make_server

from jobs.enqueue import sync_queue
from sandbox.testing import Sandbox
from syncsvc.clients.katana_webhooks import WebhookAdmin
from syncsvc.domain.errors import ConfigError
from syncsvc.settings import Settings, from_env
from syncsvc.store.pending import PendingEvents
from syncsvc.store.serializer import PlainPickleSerializer
from syncsvc.web.app import create_app
from tests.integration.engine_helpers import katana_list, luca_records, luca_writes
from tests.service_fixtures import AUTH, make_app, make_settings

TOKENS = ("old-token-0000000", "new-token-1111111")


def payload(action: str, object_id: int | str, status: str | None = None) -> bytes:
    href = f"https://api.katanamrp.com/v1/x/{object_id}"
    obj = {"id": object_id, "status": status, "href": href}
    body = {"resource_type": action.split(".")[0], "action": action, "webhook_id": 7, "object": obj}
    return json.dumps(body, separators=(",", ":")).encode()


def post(client: FlaskClient, body: bytes, token: str | None = TOKENS[1], **headers: str) -> Any:
    if token is not None:
        headers["x-sha2-signature"] = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return client.post("/api/webhooks/katana", data=body, headers={"Content-Type": "application/json", **headers})


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return make_settings(redis_url, tmp_path, katana_webhook_tokens=TOKENS)


@pytest.fixture
def client(settings: Settings) -> FlaskClient:
    return make_app(settings).test_client()


def queued(conn: redis.Redis, instance: str = "svctest") -> int:
    return int(sync_queue(conn, Settings(key_prefix=instance)).count)


def test_signed_deliveries_need_no_bearer_and_coalesce_into_one_drain(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    for vid in range(1, 1001):
        resp = post(client, payload("variant.updated", vid), token=TOKENS[vid % 2])  # both tokens (rotation)
        assert resp.status_code == 200 and resp.json["queued"] is True, resp.json
    pending = PendingEvents(redis_conn, "svctest", "PRODUCT")
    assert pending.size() == 1000
    assert queued(redis_conn) == 1  # a burst of 1,000 events is one drain job
    job = sync_queue(redis_conn, Settings(key_prefix="svctest")).jobs[0]
    assert job.args[0]["mode"] == "drain" and job.args[0]["trigger"] == "webhook"
    # Katana's retry of a delivery, and the same record again: nothing new.
    again = post(client, payload("variant.updated", 5), **{"X-Katana-Retry-Num": "1"})
    assert again.status_code == 200 and again.json["queued"] is False
    assert pending.size() == 1000 and queued(redis_conn) == 1
    # The rest of the API still wants its token.
    assert (
        client.get("/api/sync/history").status_code == 401
        and client.get("/api/sync/history", headers=AUTH).status_code == 200
    )


def test_invoice_events_only_for_invoiceable_orders(client: FlaskClient, redis_conn: redis.Redis) -> None:
    assert post(client, payload("sales_order.updated", 10, "NOT_SHIPPED")).json["queued"] is False
    assert post(client, payload("sales_order.delivered", 11, "DELIVERED")).json["ref"] == "order:11"
    assert post(client, payload("sales_order.updated", 11, "DELIVERED")).json["queued"] is False  # look-alike pair
    assert PendingEvents(redis_conn, "svctest", "INVOICE").size() == 1


@pytest.mark.parametrize(
    ("body", "token", "status"),
    [
        (payload("variant.updated", 1), None, 401),  # no signature
        (payload("variant.updated", 1), "someone-elses-token", 401),
        (b'{"action": "variant.updated", "object": {}}', TOKENS[0], 400),
        (b"\x00\xff garbage", TOKENS[0], 400),
        (b"x" * (1024 * 1024 + 1), TOKENS[0], 413),
    ],
)
def test_refused_deliveries_record_nothing(
    client: FlaskClient, redis_conn: redis.Redis, body: bytes, token: str | None, status: int
) -> None:
    resp = post(client, body, token=token)
    assert resp.status_code == status and resp.json["success"] is False
    assert PendingEvents(redis_conn, "svctest", "PRODUCT").size() == 0 and queued(redis_conn) == 0


def test_without_a_token_the_endpoint_is_off(redis_url: str, tmp_path: Path, redis_conn: redis.Redis) -> None:
    client = make_app(make_settings(redis_url, tmp_path)).test_client()
    resp = post(client, payload("variant.updated", 1))
    assert resp.status_code == 503 and "KATANA_WEBHOOK_TOKEN" in resp.json["error"]
    assert queued(redis_conn) == 0


# -- end to end: the simulator delivers to a real server, a worker drains ---------------------


class Served:
    """The app on a real loopback port (built later, once the token is known)."""

    def __init__(self) -> None:
        self.app: Flask | None = None
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served()
    yield s
    s.close()


def drain(conn: redis.Redis, instance: str = "hooktest") -> None:
    queue = sync_queue(conn, Settings(key_prefix=instance))
    SimpleWorker([queue], connection=conn, serializer=PlainPickleSerializer).work(burst=True)


def wait_deliveries(sb: Sandbox, count: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = sb.admin("katana", "GET", "webhook_deliveries")
        if sum(1 for d in log["deliveries"] if d["status"] == 200) >= count and not log["pending"]:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} deliveries answered 200: {log}")


def test_katana_change_reaches_luca_through_webhook_and_drain(
    sandbox: Sandbox, served: Served, redis_url: str, redis_conn: redis.Redis, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    env = {
        "REDIS_URL": redis_url, "SYNC_KEY_PREFIX": "hooktest", "SYNC_HISTORY_DB": str(tmp_path / "history.db"),
        "KATANA_BASE_URL": f"{sandbox.katana_url}/v1", "LUCA_BASE_URL": f"{sandbox.luca_url}/Yetki",
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    admin = WebhookAdmin(env["KATANA_BASE_URL"], "demo-katana-key")
    with pytest.raises(ConfigError, match="422"):
        admin.register("ftp://example.com/hook")
    hook = admin.register(f"{served.url}/api/webhooks/katana")
    assert [h["id"] for h in admin.list()] == [hook["id"]]
    monkeypatch.setenv("KATANA_WEBHOOK_TOKEN", f"retired-token,{hook['token']}")
    settings = from_env(load_dotenv=False)
    served.app = create_app(settings, {"REDIS_URL_RESOLVED": redis_url})

    # Luca gets its cards first (a full run through the same job function).
    from jobs.enqueue import start_sync
    from syncsvc.domain.model import RunRequest

    start_sync(redis_conn, settings, RunRequest("PRODUCT"))
    drain(redis_conn)
    writes = luca_writes(sandbox)
    cards = {r["kartKodu"] for r in luca_records(sandbox, "stock_cards")}
    variants = [v for v in katana_list(sandbox, "variants") if v.get("sku") and v["sku"].upper() in cards][:5]
    sandbox.admin("katana", "POST", "faults", {"webhook_duplicate": 1.0})  # every delivery twice
    for v in variants:
        sandbox.admin("katana", "PATCH", f"variants/{v['id']}", {"sales_price": 4321.5})
    new = sandbox.admin("katana", "POST", "products", {"name": "Webhook Ürünü", "variants": [{"sku": "WH-NEW-1"}]})
    wait_deliveries(sandbox, 2 * (len(variants) + 2))  # 5 updates + product.created + variant.created, doubled
    assert PendingEvents(redis_conn, "hooktest", "PRODUCT").size() == len(variants) + 2
    assert queued(redis_conn, "hooktest") == 1
    drain(redis_conn)

    held = {r["kartKodu"]: r for r in luca_records(sandbox, "stock_cards")}
    for v in variants:
        assert float(held[v["sku"].upper()]["perakendeSatisBirimFiyat"]) == 4321.5
    assert "WH-NEW-1" in held
    assert luca_writes(sandbox) - writes == len(variants) + 1  # doubled deliveries: no extra writes
    assert PendingEvents(redis_conn, "hooktest", "PRODUCT").size() == 0
    assert new["variants"][0]["sku"] == "WH-NEW-1"
    admin.delete(hook["id"])
    assert admin.list() == []
    admin.close()


def test_a_delivery_is_one_redis_round_trip_unless_it_queues_the_drain(
    client: FlaskClient, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = client.application.extensions["syncsvc"]
    trips: list[str] = []
    command, pipeline = svc.redis.execute_command, svc.redis.pipeline

    def counted_command(*args: Any, **options: Any) -> Any:
        trips.append(str(args[0]))
        return command(*args, **options)

    def counted_pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = pipeline(*args, **kwargs)
        execute = pipe.execute

        def counted_execute(*a: Any, **k: Any) -> Any:
            trips.append("pipeline")
            return execute(*a, **k)

        pipe.execute = counted_execute
        return pipe

    monkeypatch.setattr(svc.redis, "execute_command", counted_command)
    monkeypatch.setattr(svc.redis, "pipeline", counted_pipeline)
    pending = PendingEvents(redis_conn, "svctest", "PRODUCT")
    assert post(client, payload("variant.updated", 1)).json["drainJob"]  # (RQ reads INFO once per client)
    pending.release_drain()  # that drain started: the next event queues another
    trips.clear()
    second = post(client, payload("variant.updated", 2))
    assert second.json["queued"] is True and second.json["drainJob"]
    assert trips == ["EVALSHA", "pipeline"]  # the delivery that queues the drain: one more, for the job
    for body in (payload("variant.updated", 3), payload("variant.updated", 1)):  # new, and a retry
        trips.clear()
        assert post(client, body).json["drainJob"] is None
        assert trips == ["EVALSHA"]
    assert queued(redis_conn) == 2 and pending.size() == 3


def test_a_redis_that_forgot_the_script_still_records(client: FlaskClient, redis_conn: redis.Redis) -> None:
    svc = client.application.extensions["syncsvc"]
    original = svc.redis.evalsha

    def forgotten(*args: Any) -> Any:
        raise redis.exceptions.NoScriptError("NOSCRIPT No matching script")

    svc.redis.evalsha = forgotten
    try:
        assert post(client, payload("variant.updated", 3)).json["queued"] is True
    finally:
        svc.redis.evalsha = original
    assert PendingEvents(redis_conn, "svctest", "PRODUCT").size() == 1 and queued(redis_conn) == 1


def test_drains_are_paced_to_katanas_budget(redis_conn: redis.Redis) -> None:
    """Back-to-back drains (one every ~0.4 s) spent Katana's 60 requests a minute in 53 drains,
    then every change waited ~36 s; a drain now starts at most every SYNC_DRAIN_INTERVAL_S."""
    pending = PendingEvents(redis_conn, "pace", "PRODUCT")
    assert pending.pace(0.4) == 0.0  # the first drain goes at once
    wait = pending.pace(0.4)
    assert 0.2 < wait <= 0.4  # the next one waits out the rest of the interval
    time.sleep(wait + 0.05)
    assert pending.pace(0.4) == 0.0
    assert PendingEvents(redis_conn, "pace", "INVOICE").pace(0.4) == 0.0  # per type
    assert pending.pace(0) == 0.0 and pending.pace(0) == 0.0  # 0 turns pacing off


@pytest.mark.parametrize("raw", ["-1", "61", "inf", "nan", "soon"])
def test_a_bad_drain_interval_is_refused_with_its_name(raw: str) -> None:
    with pytest.raises(ConfigError, match="SYNC_DRAIN_INTERVAL_S"):
        from_env({"SYNC_DRAIN_INTERVAL_S": raw})
