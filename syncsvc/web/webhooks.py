"""``POST /api/webhooks/katana``: Katana's change notifications, acknowledged in milliseconds.

No bearer token here: Katana cannot send one. The signature is the authentication
(``x-sha2-signature``, HMAC-SHA256 of the raw body with a token from ``KATANA_WEBHOOK_TOKEN``;
several comma-separated tokens while rotating). The handler never calls Katana or Luca: it checks
the signature, reads which record changed, adds it to its type's pending set and makes sure one
drain job is queued (``jobs.enqueue.note_event``): one Redis round trip (one Lua call), and a
second only for the delivery that queues the drain. The drain re-fetches the records by ``ids=``
and syncs them like any run.

Answers: 200 ``{"queued": true|false, ...}`` (false: an event we don't sync, or the record was
already pending - Katana's retries and the look-alike ``updated``+``delivered`` pair end here);
401 bad or missing signature (nothing recorded); 400 not a webhook payload; 413 body over 1 MB;
503 no token configured or Redis down (Katana retries later).
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, jsonify, request

from jobs.enqueue import note_event
from syncsvc.domain.webhooks import BadDelivery, parse_event, signature_ok
from syncsvc.web.schemas import KatanaEvent, WebhookAck
from syncsvc.web.service import Service
from syncsvc.web.spec import documented

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")

MAX_WEBHOOK_BYTES = 1024 * 1024
"""Katana's payloads are a few hundred bytes; anything over 1 MB is refused unread (413)."""


def _answer(status: int, **body: object) -> tuple[Response, int]:
    return jsonify(body), status


@bp.post("/katana")
@documented(
    "Katana change notification (signed by Katana; no bearer token)",
    {
        200: (WebhookAck, "Acknowledged"),
        400: "Not a Katana webhook payload; nothing recorded",
        401: "Bad or missing signature; nothing recorded",
        413: "Body over 1 MB",
        503: "KATANA_WEBHOOK_TOKEN not set (webhooks off), or Redis unavailable",
    },
    body=KatanaEvent,
    public=True,
    headers={
        "x-sha2-signature": (True, "hex HMAC-SHA256 of the raw body with a token from KATANA_WEBHOOK_TOKEN"),
        "X-Katana-Retry-Num": (False, "Katana's delivery attempt"),
    },
    description="Records the changed record in its type's pending set and queues one drain job; never calls "
    "Katana or Luca.",
)
def katana() -> tuple[Response, int]:
    svc: Service = current_app.extensions["syncsvc"]
    received_ms = int(time.time() * 1000)
    request.max_content_length = MAX_WEBHOOK_BYTES  # the app's 16 KiB limit is for the JSON API
    if request.content_length is not None and request.content_length > MAX_WEBHOOK_BYTES:
        return _answer(413, success=False, error=f"body over {MAX_WEBHOOK_BYTES} bytes")
    raw = request.stream.read(MAX_WEBHOOK_BYTES + 1)
    if len(raw) > MAX_WEBHOOK_BYTES:
        return _answer(413, success=False, error=f"body over {MAX_WEBHOOK_BYTES} bytes")
    tokens = svc.settings.katana_webhook_tokens
    if not tokens:
        return _answer(503, success=False, error="webhooks are off: set KATANA_WEBHOOK_TOKEN to the webhook's token")
    if not signature_ok(raw, request.headers.get("x-sha2-signature"), tokens):
        log.warning("Katana webhook refused: bad or missing signature", extra={"remote": request.remote_addr})
        return _answer(401, success=False, error="bad or missing x-sha2-signature")
    try:
        event = parse_event(raw, svc.settings.invoice_statuses)
    except BadDelivery as exc:
        return _answer(400, success=False, error=str(exc))
    retry_num = request.headers.get("X-Katana-Retry-Num")
    if event.sync_type is None or event.ref is None:
        return _answer(200, success=True, queued=False, action=event.action, reason="not an event we sync")
    new, drain = note_event(svc.redis, svc.settings, event.sync_type, event.ref, received_ms, svc.job_function)
    log.info(
        "Katana %s for %s: %s", event.action, event.ref, "queued" if new else "already pending",
        extra={"sync_type": event.sync_type, "key": event.ref, "retry_num": retry_num, "drain_job": drain},
    )  # fmt: skip
    return _answer(200, success=True, queued=bool(new), syncType=event.sync_type, ref=event.ref, drainJob=drain)
