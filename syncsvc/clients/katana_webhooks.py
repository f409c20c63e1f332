"""Katana's ``/webhooks`` resource: register, list and delete this service's webhook.

The one place this service writes to Katana, and only account configuration (which URL Katana
notifies), never business data; the sync client (``katana.py``) stays GET-only. Used by
``syncsvc webhooks register|list|delete``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests

from syncsvc.domain.errors import ConfigError, TransientError
from syncsvc.domain.webhooks import SUBSCRIBED_EVENTS


class WebhookAdmin:
    def __init__(self, base_url: str, api_key: str, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {api_key}", "Accept": "application/json"})
        self.timeout = (3.05, timeout_s)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            resp = self.http.request(method, f"{self.base_url}/{path}", json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TransientError(f"cannot reach Katana at {self.base_url} ({type(exc).__name__})") from None
        if resp.status_code == 401:
            raise ConfigError("Katana refused the API key (401): check KATANA_API_KEY")
        if resp.status_code == 404:
            raise ConfigError(f"Katana: {path} not found (404)")
        if resp.status_code == 422:
            details = (
                resp.json().get("details", [])
                if resp.headers.get("content-type", "").startswith("application/json")
                else []
            )
            reasons = "; ".join(f"{d.get('path', '')} {d.get('message', '')}".strip() for d in details) or resp.text
            raise ConfigError(f"Katana rejected the webhook (422): {reasons[:300]}")
        if resp.status_code >= 400:
            raise TransientError(f"Katana {method} {path}: HTTP {resp.status_code}")
        return resp.json() if resp.content else None

    def register(self, url: str, events: Sequence[str] = SUBSCRIBED_EVENTS, description: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {"url": url, "subscribed_events": list(events)}
        if description:
            body["description"] = description
        hook: dict[str, Any] = self._call("POST", "webhooks", body)
        return hook

    def list(self) -> list[dict[str, Any]]:
        hooks: list[dict[str, Any]] = self._call("GET", "webhooks?limit=250")["data"]
        return hooks

    def delete(self, hook_id: int) -> None:
        self._call("DELETE", f"webhooks/{hook_id}")
