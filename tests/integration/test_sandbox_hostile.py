"""Bad input to either simulator gets that service's error shape, never a 5xx with a traceback."""

from __future__ import annotations

import itertools
import json

import requests

from sandbox.testing import Sandbox

KATANA_PATHS = [
    "products",
    "variants",
    "customers",
    "sales_orders",
    "sales_order_rows",
    "tax_rates",
    "locations",
    "services",
    "materials",
    "no_such_path",
]
KATANA_QUERIES = [
    {"limit": "abc"},
    {"page": "-1"},
    {"page": "0"},
    {"limit": "-5"},
    {"ids": "x"},
    {"ids": "1,2,a"},
    {"updated_at_min": "garbage"},
    {"created_at_max": "2026-13-45"},
    {"include_deleted": "maybe"},
    {"extend": "x" * 5000},
    {"sku": "\u0000"},
    {"status": "☃"},
]
LUCA_ACTIONS = [
    "EkleStkWsSkart",
    "GuncelleStkWsSkart",
    "ListeleStkSkart",
    "EkleFinMusteriWS",
    "ListeleFinMusteri",
    "EkleFtrWsFaturaBaslik",
    "ListeleFtrSsFaturaBaslik",
    "SilFtrWsFaturaBaslik",
    "ListeleGnlOlcumBirimi",
    "Giris",
    "YdlUserResponsibilityOrgSs",
    "GuncelleYtkSirketSubeDegistir",
]
LUCA_BODIES = [
    b"", b"{bad", b"[]", b"null", b"123", "ş".encode("cp1254"),
    json.dumps({"kartKodu": None, "kartAdi": 5, "baslangicTarihi": [], "kartTuru": "x"}).encode(),
    json.dumps({"detayList": "x", "belgeTarihi": 5, "skartId": "abc", "ssFaturaBaslikId": {}}).encode(),
    json.dumps({"stkSkart": "x", "finMusteri": [], "ftrSsFaturaBaslik": {"gnlOrgSsBelge": 5}}).encode(),
    json.dumps({"detayList": [None, 5, {"miktar": "x", "kartKodu": []}], "belgeSeri": "EFA2025",
                "belgeTarihi": "01/01/2026", "vadeTarihi": "01/01/2026", "belgeTurDetayId": 76, "cariKodu": "x",
                "paraBirimKod": "TRY"}).encode(),
    json.dumps({"orgSirketSubeId": "abc"}).encode(),
]  # fmt: skip


def test_katana_never_answers_5xx_to_bad_queries_or_bodies(sandbox: Sandbox) -> None:
    bad = []
    with requests.Session() as k:
        k.headers["Authorization"] = "Bearer demo-katana-key"
        for path, query in itertools.product(KATANA_PATHS, KATANA_QUERIES):
            r = k.get(f"{sandbox.katana_url}/v1/{path}", params=query, timeout=10)
            if r.status_code >= 500 or "Traceback" in r.text:
                bad.append((path, query, r.status_code))
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            r = k.request(method, f"{sandbox.katana_url}/v1/products", data=b"{bad json", timeout=10)
            if r.status_code >= 500 or "Traceback" in r.text:
                bad.append((method, r.status_code))
    assert bad == []


def test_luca_never_answers_5xx_to_bad_bodies(sandbox: Sandbox) -> None:
    bad = []
    with requests.Session() as luca:
        luca.post(
            f"{sandbox.luca_url}/Yetki/Giris.do",
            json={"orgCode": "1234567", "userName": "demo", "userPassword": "demo-luca-pass"},
            timeout=10,
        )
        luca.post(
            f"{sandbox.luca_url}/Yetki/GuncelleYtkSirketSubeDegistir.do", json={"orgSirketSubeId": 11746}, timeout=10
        )
        for action, body in itertools.product(LUCA_ACTIONS, LUCA_BODIES):
            r = luca.post(
                f"{sandbox.luca_url}/Yetki/{action}.do",
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=10,
            )
            if r.status_code >= 500 or "Traceback" in r.text:
                bad.append((action, body[:30], r.status_code))
            elif r.headers.get("Content-Type", "").startswith("application/json"):
                assert isinstance(r.json(), dict)  # Luca's own envelope, e.g. {"error": true, ...}
    assert bad == []
