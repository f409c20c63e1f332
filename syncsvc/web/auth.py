"""Who may call what: the bearer token (curl) or the console's session cookie (browsers).

Two ways in, one token:

* ``Authorization: Bearer <SYNC_API_TOKEN>`` on ``/api``, ``/rq`` and the console (curl, scripts);
* a session cookie set by signing in at ``/login`` with the same token (browsers). The cookie is
  HttpOnly, SameSite=Strict and Secure over HTTPS; its signing key is derived from the token, so
  changing the token signs every browser out and every web process agrees on the key.

HTTP Basic is no longer accepted on ``/rq``: browsers re-send cached Basic credentials with
requests that *other* sites trigger, which is how a cross-site page could delete jobs. A cookie
request that changes something must also be same-origin (:mod:`syncsvc.web.security`).

The checks run as an *app-level* ``before_request`` on every path under ``/rq`` (pages, JSON
polling endpoints, static assets, actions) before rq-dashboard's own hooks: it has no auth of its
own when embedded. With no token configured the service is open, which ``syncsvc serve`` only
allows on a loopback bind; as a second line of defence non-loopback peers are refused here too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from urllib.parse import quote

from flask import Flask, Response, jsonify, redirect, request, session
from werkzeug.wrappers.response import Response as WResponse

from syncsvc.net import is_loopback_host
from syncsvc.settings import check_api_token
from syncsvc.web import security

PROTECTED_PREFIXES = ("/api/", "/rq")
SESSION_FLAG = "signedIn"


WEBHOOK_PATHS = ("/api/webhooks/katana",)
"""Signed by Katana (HMAC, checked by the route itself): no bearer token."""


def _is_protected(path: str) -> bool:
    if path in WEBHOOK_PATHS:
        return False
    return path == "/api" or path == "/rq" or path.startswith(PROTECTED_PREFIXES)


def _matches(candidate: str, token: str) -> bool:
    return hmac.compare_digest(candidate.encode("utf-8"), token.encode("utf-8"))


def session_key(token: str | None) -> bytes:
    """The cookie-signing key: derived from the token (shared by every web process, rotated with
    it). Without a token the console is open to loopback clients only and a per-process key does."""
    if token is None:
        return os.urandom(32)
    return hmac.new(token.encode("utf-8"), b"syncsvc console session v1", hashlib.sha256).digest()


def bearer_secret(header: str | None) -> str | None:
    """The token a client presented as ``Authorization: Bearer <t>``."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    return None


def is_loopback(addr: str | None) -> bool:
    """Is the peer on this machine? (No address, e.g. a test client without one: no.)"""
    return bool(addr) and is_loopback_host(addr or "")


def unauthorized(message: str) -> Response:
    resp = jsonify({"success": False, "error": message})
    resp.status_code = 401
    resp.headers["WWW-Authenticate"] = 'Bearer realm="syncsvc"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


def how_to_authenticate() -> str:
    return "send Authorization: Bearer <SYNC_API_TOKEN>, or sign in at /login in a browser"


def credential(token: str | None) -> str | None:
    """How this request is authenticated: "bearer", "session", "loopback" (no token configured),
    or None. A wrong bearer token is None even when a session cookie is present."""
    if token is None:
        return "loopback" if is_loopback(request.remote_addr) else None
    header = request.headers.get("Authorization")
    if header:
        secret = bearer_secret(header)
        return "bearer" if secret is not None and _matches(secret, token) else None
    if session.get(SESSION_FLAG) is True:
        return "session"
    return None


def wants_html() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and request.method == "GET"


def sign_in_redirect() -> WResponse:
    target = request.full_path if request.query_string else request.path
    return redirect("/login?next=" + quote(target, safe="/"), code=303)


def install(app: Flask, token: str | None) -> None:
    check_api_token(token)  # again here: Settings can be built without from_env()
    app.secret_key = session_key(token)

    @app.before_request
    def require_token() -> WResponse | None:
        path = request.path
        if not _is_protected(path):
            return None
        how = credential(token)
        if how is None:
            if token is None:
                return unauthorized("no SYNC_API_TOKEN is configured: the API only answers loopback clients")
            if path.startswith("/rq") and wants_html() and not request.headers.get("Authorization"):
                return sign_in_redirect()
            if request.headers.get("Authorization"):
                return unauthorized("invalid token")
            return unauthorized(f"missing credentials: {how_to_authenticate()}")
        if how != "bearer":
            # A browser (cookie, or no token at all): changes must come from our own pages.
            return security.refuse_cross_origin()
        return None
