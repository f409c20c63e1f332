"""``/Yetki/<Action>.do`` routing: latency, faults, session and branch checks, envelopes.

The order mirrors the real stack: the balancer (reset, 502) and the web tier (login page,
Struts errors) answer before the application looks at the session; the application checks
session, then branch, then parses the body and runs the action.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from flask import Flask, Response, request

from sandbox.luca import actions, admin, pages
from sandbox.luca.config import Settings
from sandbox.luca.encoding import MalformedBody, decode_body
from sandbox.luca.faults import Fault
from sandbox.luca.listing import page_request
from sandbox.luca.session import JSESSION_COOKIE, NSC_COOKIE, NSC_LIFETIME_SECONDS
from sandbox.luca.simulator import Simulator
from sandbox.server import reset_connection

LOGIN_REQUIRED = "Login olunmalı."
BRANCH_REQUIRED = "Şirket Şube seçimi yapılmalı."


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    resp = Response(body, status=status)
    resp.headers["Content-Type"] = "application/json; charset=UTF-8"
    # WebLogic fingerprint headers, as captured (spec §1).
    resp.headers["X-ORACLE-DMS-ECID"] = secrets.token_hex(16)
    resp.headers["X-ORACLE-DMS-RID"] = "0"
    return resp


def html_response(body: str, status: int = 200) -> Response:
    resp = Response(body, status=status)
    resp.headers["Content-Type"] = "text/html; charset=UTF-8"
    return resp


def build(settings: Settings) -> Flask:
    sim = Simulator(settings)
    app = Flask("luca-sim")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    admin.install(app, sim)

    @app.route("/Yetki/<action>.do", methods=["GET", "POST"])
    def yetki(action: str) -> Response:
        sim.enter()
        try:
            return Pipeline(sim, action).run()
        finally:
            sim.leave()

    return app


class Pipeline:
    """One ``/Yetki`` call from arrival to response, recording what happened in the log."""

    def __init__(self, sim: Simulator, action: str) -> None:
        self.sim = sim
        self.action = action
        self.generation = sim.generation
        self.raw = request.get_data()
        self.entry: dict[str, Any] = {
            "ts": time.time(),
            "action": action,
            "method": request.method,
            "session": request.cookies.get(JSESSION_COOKIE),
            "node": None,
            "branch": None,
            "fault": None,
            "outcome": None,
            "status": 200,
            "body_size": len(self.raw),
            "ms": None,
        }
        # Logged on arrival (and completed in place) so calls still in flight are visible;
        # every key exists from the start, so readers never see the dict change size.
        if sim.generation == self.generation:
            sim.log.add(self.entry)

    def run(self) -> Response:
        started = time.monotonic()
        try:
            resp = self._run()
            self.entry["status"] = resp.status_code
            return resp
        finally:
            self.entry["ms"] = round((time.monotonic() - started) * 1000, 1)

    def _stale(self) -> bool:
        return self.sim.generation != self.generation

    def _inject(self, fault: Fault) -> None:
        self.sim.faults.record(fault.kind)
        self.entry["fault"] = f"{fault.kind}:{fault.mode}" if fault.mode else fault.kind

    def _reset(self) -> Response:
        self.entry["outcome"] = "connection_reset"
        reset_connection(request.environ)
        return Response("")

    def _login_required(self, reason: str) -> Response:
        self.entry["outcome"] = f"login_required:{reason}"
        return json_response({"code": self.sim.session_error_code(self.action, reason), "message": LOGIN_REQUIRED})

    def _run(self) -> Response:
        sim = self.sim
        # Sleep outside every lock so concurrent calls overlap their latency.
        delay = sim.faults.latency_seconds()
        if delay:
            time.sleep(delay)
        if self.action == "Giris" and request.method == "GET":
            self.entry["outcome"] = "login_page"
            return html_response(pages.LOGIN_PAGE)
        spec = actions.ACTIONS.get(self.action)
        if spec is None and self.action != "Giris":
            self.entry["outcome"] = "unknown_action"
            return html_response(pages.struts_error(self.action))

        fault = sim.faults.draw(self.action)
        kind = fault.kind if fault else None
        if fault and kind in ("reset", "bad_gateway", "slow", "html_login"):
            self._inject(fault)
        if kind == "reset":
            return self._reset()
        if kind == "bad_gateway":
            self.entry["outcome"] = "bad_gateway"
            return html_response(pages.BAD_GATEWAY_PAGE, 502)
        if kind == "slow":
            time.sleep(sim.faults.config.slow_seconds)
            if self._stale():
                return html_response(pages.struts_error(self.action))
        sid = request.cookies.get(JSESSION_COOKIE)
        if kind == "html_login":
            if sid:
                sim.sessions.drop(sid)
            self.entry["outcome"] = "login_page"
            return html_response(pages.LOGIN_PAGE)
        if spec is None:
            return self._login()

        lookup = sim.sessions.lookup(sid, request.cookies.get(NSC_COOKIE))
        self.entry["node"] = lookup.node
        session = lookup.session
        if session is None:
            return self._login_required(lookup.reason)
        self.entry["branch"] = session.branch_id
        if fault and kind == "session_expiry":
            self._inject(fault)
            sim.sessions.drop(session.sid)
            return self._login_required("expired")
        if spec.needs_branch:
            if fault and kind == "branch_loss":
                self._inject(fault)
                sim.sessions.set_branch(session.sid, None)
            if session.branch_id is None:
                self.entry["outcome"] = "branch_required"
                return json_response({"code": 1003, "message": BRANCH_REQUIRED})

        try:
            body = decode_body(self.raw, request.content_type)
        except MalformedBody:
            self.entry["outcome"] = "malformed"
            return json_response({"error": True})
        if fault and kind == "empty_error":
            self._inject(fault)
            self.entry["outcome"] = "empty_error"
            return json_response({"error": True})

        page_no, no_paging = page_request({k.lower(): v for k, v in request.headers.items()}, request.args.to_dict())
        call = actions.Call(
            store=sim.store,
            sessions=sim.sessions,
            settings=sim.settings,
            switches=sim.switches,
            session=session,
            body=body,
            page_no=page_no,
            no_paging=no_paging,
            detailed=request.args.get("detayliListe", "").lower() == "true",
        )
        if self._stale():
            return html_response(pages.struts_error(self.action))
        outcome = actions.run(spec, call)
        message = outcome.payload.get("message")
        failed = outcome.payload.get("error") is True or outcome.payload.get("code", 0) != 0
        self.entry["outcome"] = f"error:{message}" if failed else "ok"
        if fault and kind == "commit_then_fail" and outcome.committed:
            # The write is in; only the reply is lost.
            self._inject(fault)
            self.entry["outcome"] = f"committed_reply_lost:{fault.mode}"
            if fault.mode == "html":
                return html_response(pages.LOGIN_PAGE)
            if fault.mode == "reset":
                reset_connection(request.environ)
                return Response("")
            time.sleep(sim.faults.config.slow_seconds)
        return json_response(outcome.payload)

    def _login(self) -> Response:
        """``Giris.do``: cookies on every answer, even a failed one (F2)."""
        sim, settings = self.sim, self.sim.settings
        try:
            body = decode_body(self.raw, request.content_type)
        except MalformedBody:
            body = None
        ok = (
            body is not None
            and str(body.get("orgCode", "")) == settings.org_code
            and body.get("userName") == settings.username
            and body.get("userPassword") == settings.password
        )
        user = (settings.org_code, settings.username) if ok else None
        session = sim.sessions.issue(user, sim.faults.config.single_session_per_user)
        self.entry.update(session=session.sid, node=session.node)
        if body is None:
            payload: dict[str, Any] = {"error": True}
            self.entry["outcome"] = "malformed"
        elif ok:
            sim.count_login()
            payload = {"code": 0, "message": "Oturum başlatıldı."}
            self.entry["outcome"] = "ok"
        else:
            payload = {"code": 99, "message": "Kullanıcı-Parola Bilgisi Yanlış!"}
            self.entry["outcome"] = "error:bad_credentials"
        resp = json_response(payload)
        resp.set_cookie(JSESSION_COOKIE, session.sid, path="/", httponly=True)
        resp.set_cookie(NSC_COOKIE, session.nsc, path="/", httponly=True, max_age=NSC_LIFETIME_SECONDS)
        return resp
