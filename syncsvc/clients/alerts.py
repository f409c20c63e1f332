"""Alerts: one JSON POST to ``SYNC_ALERT_WEBHOOK_URL`` when a sync type pauses or resumes.

Best effort by design: an unreachable alert receiver is logged (without its URL, which often
carries a token, as Slack's do) and never fails a run or a resume."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime
from typing import Any

import requests

log = logging.getLogger(__name__)
ALERT_TIMEOUT_S = 5.0


def send_alert(url: str | None, event: str, sync_type: str, **fields: Any) -> bool:
    """POST ``{"event", "syncType", "at", "host", ...fields}``; True when the receiver took it (2xx)."""
    if not url:
        return False
    body = {
        "event": event,
        "syncType": sync_type,
        "at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "host": socket.gethostname(),
        "text": f"syncsvc: {sync_type} {event}" + (f": {fields['reason']}" if fields.get("reason") else ""),
        **fields,
    }
    try:
        resp = requests.post(url, json=body, timeout=ALERT_TIMEOUT_S)
    except requests.RequestException as exc:
        log.warning("alert %s for %s not delivered: %s", event, sync_type, type(exc).__name__)
        return False
    if not 200 <= resp.status_code < 300:
        log.warning("alert %s for %s refused: HTTP %s", event, sync_type, resp.status_code)
        return False
    log.info("alert %s for %s delivered", event, sync_type, extra={"sync_type": sync_type, "event": event})
    return True
