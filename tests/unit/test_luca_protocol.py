"""Every Luca reply maps to exactly one class of the exception tree."""

from __future__ import annotations

import json

import pytest
import requests

from syncsvc.clients.luca_protocol import classify
from syncsvc.domain.errors import AlreadyExists, BusinessError, SessionExpired, SessionLost, TransientError


def reply(body: object, status: int = 200) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return resp


def test_success_needs_the_expected_id() -> None:
    assert classify(reply({"skartId": 5, "error": False}), "create", "skartId")["skartId"] == 5
    with pytest.raises(TransientError, match="outcome unknown"):
        classify(reply({"error": False, "message": "ok"}), "create", "skartId")


@pytest.mark.parametrize(("body", "status", "error"), [
    ({"code": 1001, "message": "Login olunmalı."}, 200, SessionExpired),
    ({"code": 1002, "message": "Login olunmalı."}, 200, SessionExpired),
    ({"code": 1003, "message": "Şirket Şube seçimi yapılmalı."}, 200, SessionExpired),
    (b"<!DOCTYPE html><html><title>Koza Projesi</title></html>", 200, SessionLost),
    (b"<html><body>Unable to instantiate Action</body></html>", 200, SessionLost),
    (b"<html>502 Bad Gateway</html>", 502, TransientError),
    (b"{not json", 200, TransientError),
    ({"error": True}, 200, TransientError),
    ({"error": True, "message": "Kart kodu daha önce kullanılmış"}, 200, AlreadyExists),
    ({"error": True, "message": "Kart kodu daha Ã¶nce kullanÄ±lmÄ±Å\x9f"}, 200, AlreadyExists),
    ({"error": True, "message": "[kartAdi] alanı zorunludur."}, 200, BusinessError),
    ({"code": 99, "message": "Kullanıcı-Parola Bilgisi Yanlış!"}, 200, BusinessError),
])  # fmt: skip
def test_failures_are_classified(body: object, status: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        classify(reply(body, status), "action", "skartId")
