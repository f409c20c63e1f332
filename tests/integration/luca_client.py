"""A thin test client for the Luca simulator: one cookie-carrying requests.Session."""

from __future__ import annotations

from typing import Any

import requests

ORG, USER, PASSWORD = "1234567", "demo", "demo-luca-pass"
BRANCH = 11746


class LucaClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def post(self, action: str, body: Any = None, timeout: float = 10, **kwargs: Any) -> requests.Response:
        return self.http.post(
            f"{self.base_url}/Yetki/{action}.do", json={} if body is None else body, timeout=timeout, **kwargs
        )

    def call(self, action: str, body: Any = None, **kwargs: Any) -> Any:
        resp = self.post(action, body, **kwargs)
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"] == "application/json; charset=UTF-8", resp.text[:200]
        return resp.json()

    def login(self, password: str = PASSWORD) -> Any:
        return self.call("Giris", {"orgCode": ORG, "userName": USER, "userPassword": password})

    def ready(self) -> LucaClient:
        assert self.login()["code"] == 0
        assert "@message" in self.call("GuncelleYtkSirketSubeDegistir", {"orgSirketSubeId": BRANCH})
        return self

    def close(self) -> None:
        self.http.close()


def card(code: str, name: str = "Ürün", **extra: Any) -> dict[str, Any]:
    return {"kartKodu": code, "kartAdi": name, "baslangicTarihi": "01/01/2026", "kartTuru": 1, **extra}


def company(code: str, **extra: Any) -> dict[str, Any]:
    return {
        "tip": 1,
        "tanim": f"{code} Ltd.",
        "kartKod": code,
        "paraBirimKod": "TRY",
        "vergiNo": "1234567890",
    } | extra


def invoice(customer: str, *codes: str, **extra: Any) -> dict[str, Any]:
    return {
        "belgeSeri": "EFA2025",
        "belgeTarihi": "01/02/2026",
        "vadeTarihi": "01/03/2026",
        "belgeTurDetayId": "76",
        "cariKodu": customer,
        "paraBirimKod": "TRY",
        "detayList": [{"kartTuru": 1, "kartKodu": c, "miktar": 2, "birimFiyat": 10.5, "kdvOran": 0.2} for c in codes],
        **extra,
    }
