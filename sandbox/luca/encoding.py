"""Text handling the way the Koza backend does it: bytes in, Windows-1254 storage, UTF-8 out."""

from __future__ import annotations

import json
import re
from typing import Any

# Labels a client may put on its body; the origin sent ISO-8859-9 and CP1254 at various times.
_TURKISH_CHARSETS = {"iso-8859-9", "iso8859-9", "latin5", "windows-1254", "cp1254"}
_CHARSET_RE = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9_\-]+)", re.IGNORECASE)


class MalformedBody(ValueError):
    """The body is not a JSON object Struts/OGNL could map onto an action."""


def store_text(value: str) -> str:
    """Round-trip through Windows-1254 so characters outside Latin-5 come back as ``?``.

    This is what the tenant database does to names such as ``⌀ 12`` or ``Φ`` (spec §3.7, F14).
    """
    return value.encode("cp1254", "replace").decode("cp1254")


def store_value(value: Any) -> Any:
    """Apply :func:`store_text` to every string inside a JSON value."""
    if isinstance(value, str):
        return store_text(value)
    if isinstance(value, list):
        return [store_value(v) for v in value]
    if isinstance(value, dict):
        return {k: store_value(v) for k, v in value.items()}
    return value


def decode_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """Parse a request body into a JSON object; an empty body counts as ``{}``.

    UTF-8 unless the client labels the body as a Turkish single-byte charset.
    """
    if not raw.strip():
        return {}
    charset = "utf-8"
    match = _CHARSET_RE.search(content_type or "")
    if match and match.group(1).lower() in _TURKISH_CHARSETS:
        charset = "cp1254"
    try:
        parsed = json.loads(raw.decode(charset))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedBody(str(exc)) from exc
    if not isinstance(parsed, dict):
        raise MalformedBody("body is not a JSON object")
    return parsed
