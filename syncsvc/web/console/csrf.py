"""Session cookie and CSRF tokens for the console's forms.

Every form carries a per-session random token; a POST without the matching token is refused
(400) before the view runs. The cookie is HttpOnly and SameSite=Strict always, Secure when the
request arrived over HTTPS (or the public URL is HTTPS), decided per request so one deployment can
serve both a loopback http port and an https proxy.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface

FIELD = "csrf"
SESSION_KEY = "csrf"


class ConsoleSessions(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (has_request_context() and request.is_secure)


def token() -> str:
    """This session's CSRF token (created on first use)."""
    value = session.get(SESSION_KEY)
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        session[SESSION_KEY] = value
    return value


def check() -> None:
    expected = session.get(SESSION_KEY)
    sent = request.form.get(FIELD, "")
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(sent, expected):
        abort(400, description="the form's security token is missing or stale: reload the page and try again")


def install(app: Flask, public_url: str) -> None:
    app.session_interface = ConsoleSessions()
    app.config.update(
        SESSION_COOKIE_NAME="syncsvc_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=public_url.startswith("https://"),
    )
    app.jinja_env.globals["csrf_token"] = token
