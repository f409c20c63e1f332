"""Clients that talk to the Luca simulator directly, without the service: the design this service
replaced (one item at a time, a fresh login per item) and a raw create-throughput probe."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import requests

from bench.infra import OBSERVER_KEY
from sandbox.testing import Sandbox
from syncsvc.domain.errors import SyncError
from syncsvc.domain.mapping import LucaTenant, map_stock_card
from syncsvc.settings import Settings

LOGIN = {"orgCode": "1234567", "userName": "demo", "userPassword": "demo-luca-pass"}


def _post(http: requests.Session, sb: Sandbox, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
    resp = http.post(f"{sb.luca_url}/Yetki/{action}.do", json=dict(body), timeout=60)
    resp.raise_for_status()
    data: dict[str, Any] = resp.json()
    return data


def login(http: requests.Session, sb: Sandbox) -> None:
    """Login, list branches, select the first: the three calls every Luca session starts with."""
    if _post(http, sb, "Giris", LOGIN).get("code") != 0:
        raise RuntimeError("simulator login failed")
    branches = _post(http, sb, "YdlUserResponsibilityOrgSs", {})["list"]
    _post(http, sb, "GuncelleYtkSirketSubeDegistir", {"orgSirketSubeId": branches[0]["id"]})


def card_payloads(sb: Sandbox, count: int) -> list[dict[str, Any]]:
    """The payloads our mapping sends for the first ``count`` mappable variants (same as a run)."""
    with requests.Session() as http:
        login(http, sb)
        units = _post(http, sb, "ListeleGnlOlcumBirimi", {})["list"]
    tenant = LucaTenant(units={str(u["tanim"]).lower(): int(u["id"]) for u in units})
    settings = Settings()
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {OBSERVER_KEY}"
        page = 1
        while len(out) < count:
            params: dict[str, Any] = {"limit": 250, "page": page, "extend": "product_or_material"}
            rows = http.get(f"{sb.katana_url}/v1/variants", params=params, timeout=60).json()["data"]
            for variant in rows:
                try:
                    plan = map_stock_card(variant, settings, tenant)
                except SyncError:
                    continue
                if plan.key not in seen and not variant.get("deleted_at"):
                    seen.add(plan.key)
                    out.append(dict(plan.payload))
            if len(rows) < 250:
                break
            page += 1
    return out[:count]


def old_way(sb: Sandbox, payloads: list[dict[str, Any]]) -> float:
    """One item at a time, each with its own session (login + branch + create). Returns seconds."""
    started = time.perf_counter()
    for payload in payloads:
        with requests.Session() as http:
            login(http, sb)
            reply = _post(http, sb, "EkleStkWsSkart", payload)
            if reply.get("error"):
                raise RuntimeError(f"old way create failed: {reply}")
    return time.perf_counter() - started


def create_throughput(sb: Sandbox, template: Mapping[str, Any], count: int, threads: int = 8) -> float:
    """Stock-card creates per second the simulator sustains: ``threads`` clients sharing one
    session, each sending creates back to back. Returns seconds for ``count`` creates."""
    with requests.Session() as http:
        login(http, sb)
        cookies = http.cookies.get_dict()
    counter = iter(range(count))
    lock = threading.Lock()
    errors: list[str] = []

    def client() -> None:
        with requests.Session() as http:
            http.cookies.update(cookies)
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                body = {**template, "kartKodu": f"THR-{n:06d}"}
                reply = _post(http, sb, "EkleStkWsSkart", body)
                if reply.get("error"):
                    errors.append(str(reply))
                    return

    workers = [threading.Thread(target=client) for _ in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise RuntimeError(f"throughput probe: {errors[0]}")
    return time.perf_counter() - started
