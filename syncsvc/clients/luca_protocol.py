"""Classify every Luca reply into success or one exception of :mod:`syncsvc.domain.errors`.

Luca answers HTTP 200 for logical errors, so the status code alone means nothing:

=====================================  =====================================================
reply                                  classified as
=====================================  =====================================================
HTTP 5xx (balancer 502/503/504)        TransientError
HTML body (login page, Struts error)   SessionLost (re-login; a write's outcome is unknown)
not JSON, not HTML                     TransientError
``code`` 1001 / 1002 / 1003            SessionExpired (not processed; re-login and resend)
``error:true`` + "daha önce kullan"    AlreadyExists (adopt)
``error:true`` with empty message      TransientError (seen for malformed or dropped calls)
``error:true`` + message               BusinessError
``code`` present and not 0             BusinessError
success without the expected id key    TransientError (can't tell what happened)
=====================================  =====================================================
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from syncsvc.domain.errors import AlreadyExists, BusinessError, SessionExpired, SessionLost, TransientError

SESSION_CODES = (1001, 1002, 1003)
# "Kart kodu daha önce kullanılmış"; the tail of the phrase survives mojibake ("Ã¶nce kullanÄ±...").
_DUPLICATE = re.compile(r"(daha [öo]nce kullan|nce kullan|kullan[ıi]mda)", re.IGNORECASE)
_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def is_duplicate_message(message: str) -> bool:
    return bool(_DUPLICATE.search(message))


def _looks_like_html(body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html")) or b"<html" in head


def classify(resp: requests.Response, action: str, expect: str | None = None) -> dict[str, Any]:
    """Return the JSON body of a successful reply, or raise the matching error."""
    body = resp.content or b""
    if resp.status_code >= 500:
        raise TransientError(f"Luca {action}: HTTP {resp.status_code} from the balancer")
    if resp.status_code in (401, 403):
        raise SessionLost(f"Luca {action}: HTTP {resp.status_code}")
    if _looks_like_html(body):
        title = _TITLE.search(body[:4096].decode("utf-8", "replace"))
        what = " ".join(title.group(1).split()) if title else "HTML page"
        raise SessionLost(f"Luca {action}: answered HTML instead of JSON ({what[:80]})")
    if resp.status_code != 200:
        raise TransientError(f"Luca {action}: HTTP {resp.status_code}")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise TransientError(f"Luca {action}: reply is not JSON ({body[:60]!r})") from None
    if not isinstance(data, dict):
        raise TransientError(f"Luca {action}: reply is not a JSON object")
    code = data.get("code")
    message = str(data.get("message") or "").strip()
    if code in SESSION_CODES:
        raise SessionExpired(f"Luca {action}: code {code} {message}".strip(), int(code))
    if data.get("error") is True:
        if not message:
            raise TransientError(f"Luca {action}: error without a message")
        if is_duplicate_message(message):
            raise AlreadyExists(message)
        raise BusinessError(message)
    if code not in (None, 0, "0"):
        raise BusinessError(f"Luca {action}: code {code} {message}".strip())
    if expect is not None and expect not in data:
        raise TransientError(f"Luca {action}: reply lacks {expect!r}; outcome unknown")
    return data
