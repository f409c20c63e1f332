"""Bearer-token auth for ``/api`` and the embedded rq-dashboard at ``/rq``.

rq-dashboard has no auth of its own when embedded, and one of its mutating routes
(``/rq/requeue/<queue>``) also answers GET, so the check runs as an *app-level* ``before_request``
on every path under ``/rq`` (pages, JSON polling endpoints, static assets, actions) before the
dashboard's own hooks. Browsers cannot send a bearer header, so ``/rq`` also accepts HTTP Basic
with any user name and the token as the password.

With no token configured the service is open, which ``syncsvc serve`` only allows on a loopback
bind; as a second line of defence requests from non-loopback peers are refused here too.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress

from flask import Flask, Response, jsonify, request

PROTECTED_PREFIXES = ("/api/", "/rq")


WEBHOOK_PATHS = ("/api/webhooks/katana",)
"""Signed by Katana (HMAC, checked by the route itself): no bearer token."""


def _is_protected(path: str) -> bool:
    if path in WEBHOOK_PATHS:
        return False
    return path == "/api" or path == "/rq" or path.startswith(PROTECTED_PREFIXES)


def _matches(candidate: str, token: str) -> bool:
    return hmac.compare_digest(candidate.encode("utf-8"), token.encode("utf-8"))


def presented_secret(header: str | None, allow_basic: bool) -> str | None:
    """The token a client presented: ``Bearer <t>``, or (dashboard only) Basic ``<any>:<t>``."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if allow_basic and scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, sep, password = decoded.partition(":")
        return password if sep else None
    return None


def is_loopback(addr: str | None) -> bool:
    try:
        return ipaddress.ip_address(addr or "").is_loopback
    except ValueError:
        return False


def unauthorized(message: str, dashboard: bool) -> Response:
    resp = jsonify({"success": False, "error": message})
    resp.status_code = 401
    resp.headers["WWW-Authenticate"] = 'Basic realm="syncsvc"' if dashboard else 'Bearer realm="syncsvc"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


def install(app: Flask, token: str | None) -> None:
    @app.before_request
    def require_token() -> Response | None:
        path = request.path
        if not _is_protected(path):
            return None
        dashboard = path == "/rq" or path.startswith("/rq/")
        if token is None:
            if is_loopback(request.remote_addr):
                return None
            return unauthorized("no SYNC_API_TOKEN is configured: the API only answers loopback clients", dashboard)
        secret = presented_secret(request.headers.get("Authorization"), allow_basic=dashboard)
        if secret is None:
            how = "Authorization: Bearer <SYNC_API_TOKEN>" + (
                " (or HTTP Basic with the token as password)" if dashboard else ""
            )
            return unauthorized(f"missing credentials: send {how}", dashboard)
        if not _matches(secret, token):
            return unauthorized("invalid token", dashboard)
        return None
