"""Browser-facing defences for every response: CSP and friends, same-origin writes, and escaping of
the job data rq-dashboard renders raw.

Katana text (product names, SKUs, customer names) is untrusted and reaches job results and error
messages. rq-dashboard 0.9.0 renders its JSON data endpoints with underscore's ``<%= %>``
(unescaped) into ``innerHTML``; instead of patching its templates we HTML-escape the string values
of those JSON responses, so what it inserts as HTML is inert text. Its job-list and worker
templates escape two fields themselves; those are left alone to avoid showing ``&lt;``.

The Content-Security-Policy forbids inline script and inline event handlers. The console needs
none. rq-dashboard's pages carry one inline ``<script>`` block built from its own templates (values
passed through ``tojson``); its hash is added to that response's policy, and because underscore
compiles templates with ``new Function`` the dashboard also needs ``'unsafe-eval'``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, jsonify, request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BASE_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "object-src": "'none'",
}
# Fields rq-dashboard escapes itself (jobs.html: $('<div/>').text(...).html(); workers.html: <%- %>).
SELF_ESCAPED = {
    "rq_dashboard.list_jobs": {"description", "exc_info"},
    "rq_dashboard.list_workers": {"description"},
}
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
"""RQ ids (and so our run ids): letters, digits, '_' and '-'."""
DASHBOARD_CSS = "/console-static/dashboard.css"
_INLINE_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S | re.I)


class CrossOrigin(Exception):
    """A state-changing browser request that did not come from our own pages."""


def allowed_origins() -> set[str]:
    origins = {_origin(request.host_url)}
    public = current_app.config.get("SYNCSVC_PUBLIC_URL")
    if public:
        origins.add(_origin(public))
    return origins


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin() -> bool:
    """True when the request says it comes from one of our pages (Origin, else Referer).

    Browsers send Origin on every cross-origin request and on same-origin POSTs; a request with
    neither header is refused because we cannot tell where it came from."""
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.lower() != "null" and origin.rstrip("/").lower() in allowed_origins()
    referer = request.headers.get("Referer")
    if referer:
        return _origin(referer) in allowed_origins()
    return False


def refuse_cross_origin() -> Response | None:
    """For cookie-authenticated requests: refuse writes that do not come from our origin."""
    if request.method in SAFE_METHODS or same_origin():
        return None
    resp = jsonify(
        {"success": False, "error": "cross-origin request refused: changes must come from this site's own pages"}
    )
    resp.status_code = 403
    return resp


def policy_header(extra_script: str = "", extra_style: str = "") -> str:
    policy = dict(BASE_POLICY)
    if extra_script:
        policy["script-src"] += " " + extra_script
    if extra_style:
        policy["style-src"] += " " + extra_style
    return "; ".join(f"{k} {v}" for k, v in policy.items())


def escape_strings(value: Any, keep: set[str] | frozenset[str] = frozenset(), field: str = "") -> Any:
    """HTML-escape every string in a JSON value (keys too), except fields named in ``keep``."""
    if isinstance(value, str):
        return value if field in keep else html.escape(value, quote=True)
    if isinstance(value, list):
        return [escape_strings(v, keep, field) for v in value]
    if isinstance(value, dict):
        return {html.escape(str(k)): escape_strings(v, keep, str(k)) for k, v in value.items()}
    return value


def inline_script_hashes(page: str) -> list[str]:
    """CSP hash sources for the page's executable inline scripts (not ``text/template`` blocks)."""
    hashes = []
    for m in _INLINE_SCRIPT.finditer(page):
        attrs = m.group("attrs").lower()
        if "src=" in attrs or "text/template" in attrs:
            continue
        digest = hashlib.sha256(m.group("body").encode("utf-8")).digest()
        hashes.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return hashes


def _secure_dashboard(resp: Response) -> str:
    """Escape the dashboard's JSON data; return the script sources its HTML page needs."""
    if resp.direct_passthrough or resp.is_streamed:
        return ""
    if resp.mimetype == "application/json":
        keep = SELF_ESCAPED.get(request.endpoint or "", set())
        data = json.loads(resp.get_data(as_text=True))
        resp.set_data(json.dumps(escape_strings(data, keep)))
        return ""
    if resp.mimetype == "text/html":
        page = resp.get_data(as_text=True)
        if "</head>" in page:  # our stylesheet after its own: long results wrap instead of overflowing
            page = page.replace("</head>", f'<link rel="stylesheet" href="{DASHBOARD_CSS}">\n</head>', 1)
            resp.set_data(page)
        return " ".join(["'unsafe-eval'", *inline_script_hashes(page)])
    return ""


def install(app: Flask, public_url: str) -> None:
    app.config["SYNCSVC_PUBLIC_URL"] = public_url

    @app.before_request
    def no_mutating_get() -> Response | None:
        # rq-dashboard's "requeue all" also answers GET, so an <img src> could trigger it.
        if request.endpoint == "rq_dashboard.requeue_all" and request.method != "POST":
            resp = jsonify({"success": False, "error": "requeue needs POST"})
            resp.status_code = 405
            resp.headers["Allow"] = "POST"
            return resp
        return None

    @app.after_request
    def headers(resp: Response) -> Response:
        extra_script = extra_style = ""
        if request.blueprint == "rq_dashboard" and resp.status_code < 400:
            extra_script = _secure_dashboard(resp)
            extra_style = "'unsafe-inline'"  # its markup carries style="" attributes; no script
        resp.headers["Content-Security-Policy"] = policy_header(extra_script, extra_style)
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        if request.is_secure:
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return resp
