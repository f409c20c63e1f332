"""Validating the body of ``POST /api/sync/start``; every rejection names the field and what is allowed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from syncsvc.domain.model import InvalidRequest, RunRequest
from syncsvc.domain.synctypes import SYNC_TYPE_NAMES

ALLOWED_FIELDS = ("syncType", "limit", "dryRun", "mode", "keys")


class BadRequest(ValueError):
    """The request is invalid; the message is safe to return to the client."""


def parse_start_body(content_type: str | None, raw: bytes) -> RunRequest:
    """Turn the raw request into a :class:`RunRequest`.

    Raises:
        BadRequest: with a one-line message naming the field and the allowed values.
    """
    mimetype = (content_type or "").split(";")[0].strip().lower()
    if mimetype != "application/json":
        raise BadRequest(f"Content-Type must be application/json, got {mimetype or 'none'!r}")
    if not raw.strip():
        raise BadRequest('body must be a JSON object such as {"syncType": "PRODUCT"}')
    try:
        body: Any = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"body is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(body, dict):
        raise BadRequest(f'body must be a JSON object such as {{"syncType": "PRODUCT"}}, got {_kind(body)}')
    unknown = sorted(str(k) for k in body if k not in ALLOWED_FIELDS)
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; allowed fields: {', '.join(ALLOWED_FIELDS)}")

    if body.get("syncType") is None:
        raise BadRequest(f"syncType is required; allowed values: {', '.join(SYNC_TYPE_NAMES)}")
    if body.get("mode") not in (None, "full", "incremental"):
        raise BadRequest(f"mode must be one of full, incremental (or omitted), got {json.dumps(body['mode'])[:60]}")
    try:
        return RunRequest.from_job({**body, "trigger": "api"})
    except InvalidRequest as exc:
        raise BadRequest(str(exc)) from None


def parse_paging(args: Mapping[str, str], default_size: int = 50, max_size: int = 500) -> tuple[int, int]:
    """``limit``/``offset`` or ``page``/``pageSize`` (1-based page) from a query string."""
    if "page" in args or "pageSize" in args:
        page = _query_int(args, "page", 1, minimum=1)
        size = _query_int(args, "pageSize", default_size, minimum=1, maximum=max_size)
        return size, (page - 1) * size
    return (
        _query_int(args, "limit", default_size, minimum=1, maximum=max_size),
        _query_int(args, "offset", 0, minimum=0),
    )


def parse_choice(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _query_int(args: Mapping[str, str], name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    # isdigit() alone accepts '²' and other Unicode digits that int() refuses (or reads as ASCII).
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise BadRequest(f"{name} must be an integer >= {minimum}, got {raw[:40]!r}")
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise BadRequest(f"{name} must be {bound}, got {value}")
    return value


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
