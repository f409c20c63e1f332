"""Luca Koza client: JSON login + branch selection, one request per record, every reply classified.

Session errors that prove the request was NOT processed (codes 1001-1003) are healed here: the
client re-logs in (single-flight, shared via Redis) and resends. Anything that leaves a write's
outcome unknown (timeout, reset, HTML, 5xx, a reply without the id) is raised to the caller as a
TransientError and NEVER resent here: the engine looks the record up by its natural key first.
"""

from __future__ import annotations

import http.cookiejar
import logging
import time
from collections.abc import Mapping
from typing import Any

import redis
import requests
from requests.adapters import HTTPAdapter

from syncsvc import metrics
from syncsvc.clients.luca_protocol import classify
from syncsvc.clients.luca_session import LucaSession, SessionStore
from syncsvc.defaults import (
    LUCA_LOGIN_TRIES,
    LUCA_LOOKUP_TRIES,
    LUCA_READ_BASE_S,
    LUCA_READ_MAX_S,
    LUCA_READ_TRIES,
    LUCA_SESSION_HEALS,
)
from syncsvc.domain import retry
from syncsvc.domain.convert import as_int
from syncsvc.domain.errors import (
    AccessRefused,
    BusinessError,
    ConfigError,
    ReplyTimeout,
    SessionExpired,
    SessionLost,
    TransientError,
)
from syncsvc.net import pinned_session
from syncsvc.settings import Settings

log = logging.getLogger(__name__)

NO_PAGING = {"No-Paging": "true"}


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """The shared requests.Session must not keep cookies: threads send the Redis-held session's
    cookies explicitly, so a stale Set-Cookie can't leak between generations."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


class LucaClient:
    def __init__(self, settings: Settings, conn: redis.Redis) -> None:
        self.settings = settings
        self.base_url = settings.luca_base_url.rstrip("/")
        self.timeout = (settings.luca_connect_timeout_s, settings.luca_timeout_s)
        self.http = pinned_session(self.base_url)
        self.http.cookies.set_policy(_NoCookies())
        self.http.mount(self.base_url, HTTPAdapter(pool_connections=1, pool_maxsize=settings.pool_size * 2 + 4))
        self.sessions = SessionStore(conn, settings.key_prefix)
        self._list_retrying = retry.reads(LUCA_READ_TRIES, LUCA_READ_BASE_S, LUCA_READ_MAX_S)(self._list_once)
        self._lookup_retrying = retry.reads(LUCA_LOOKUP_TRIES, LUCA_READ_BASE_S, LUCA_READ_MAX_S)(self._list_once)
        self.requests_sent = 0

    def close(self) -> None:
        self.http.close()

    # -- transport -------------------------------------------------------------------------

    def _post(
        self, action: str, body: Mapping[str, Any], cookies: str | None, headers: Mapping[str, str] | None = None
    ) -> requests.Response:
        hdrs = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
        hdrs.update(headers or {})
        if cookies:
            hdrs["Cookie"] = cookies
        self.requests_sent += 1
        started = time.perf_counter()
        result = "error"
        try:
            resp = self._send(action, body, hdrs)
            result = "ok" if resp.status_code == 200 else f"http_{resp.status_code}"
            return resp
        except ReplyTimeout:
            result = "timeout"
            raise
        finally:
            metrics.inc("luca_requests_total", action=action, result=result)
            metrics.observe("luca_request_seconds", time.perf_counter() - started, action=action)

    def _send(self, action: str, body: Mapping[str, Any], hdrs: dict[str, str]) -> requests.Response:
        try:
            return self.http.post(f"{self.base_url}/{action}", json=dict(body), headers=hdrs, timeout=self.timeout)
        except requests.ConnectTimeout as exc:  # never sent: nothing can commit later
            raise TransientError(f"Luca {action}: no connection within {self.timeout[0]:.0f} s") from exc
        except requests.Timeout as exc:
            raise ReplyTimeout(f"Luca {action}: no reply within {self.timeout[1]:.0f} s") from exc
        except requests.RequestException as exc:
            raise TransientError(f"Luca {action}: {type(exc).__name__} (connection broken)") from exc

    def call(
        self,
        action: str,
        body: Mapping[str, Any],
        expect: str | None = None,
        write: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One logical call. ``write`` calls are never resent after an ambiguous failure."""
        session = self.sessions.current() or self._relogin(None)
        for _ in range(LUCA_SESSION_HEALS + 1):
            resp = self._post(action, body, session.cookie_header(), headers)
            try:
                return classify(resp, action, expect)
            except SessionExpired:
                # 1001/1002/1003: the server did not process the request; safe to resend.
                session = self._relogin(session.generation)
            except SessionLost:
                session = self._relogin(session.generation)
                if write:
                    raise  # the create may have been committed before the page broke
        raise TransientError(f"Luca {action}: session lost {LUCA_SESSION_HEALS + 1} times in a row")

    # -- session ---------------------------------------------------------------------------

    def _relogin(self, failed_generation: int | None) -> LucaSession:
        return self.sessions.refresh(failed_generation, self._login)

    def _login(self, previous: LucaSession | None) -> tuple[dict[str, str], int]:
        # The new session can die before its branch is selected (expiry, another login of the
        # same user): start the sequence over a few times before giving up.
        for _ in range(LUCA_LOGIN_TRIES):
            try:
                return self._login_once()
            except SessionExpired as exc:
                log.warning("Luca session died during login (%s); logging in again", exc)
        raise TransientError("Luca session kept dying during login and branch selection")

    def _login_once(self) -> tuple[dict[str, str], int]:
        s = self.settings
        resp = self._post(
            "Giris.do",
            {"orgCode": s.luca_org_code, "userName": s.luca_username, "userPassword": s.luca_password},
            cookies=None,
        )
        data = classify_login(resp)
        # Every cookie goes back (JSESSIONID and the balancer's NSC_ persistence cookie).
        cookies = {c.name: c.value or "" for c in resp.cookies}
        if not cookies:
            raise TransientError("Luca login succeeded but set no session cookie")
        header = "; ".join(f"{k}={v}" for k, v in cookies.items())
        branches = classify(self._post("YdlUserResponsibilityOrgSs.do", {}, header), "branch list", "list")
        branch = self._choose_branch(branches.get("list") or [])
        changed = classify(
            self._post("GuncelleYtkSirketSubeDegistir.do", {"orgSirketSubeId": branch}, header), "branch selection"
        )
        if "@message" not in changed and "message" not in changed:
            raise TransientError(f"Luca branch selection: unexpected reply {str(changed)[:120]}")
        metrics.inc("luca_logins_total")
        log.info(
            "Logged in to Luca as %s (org %s), branch %d; %s",
            s.luca_username,
            s.luca_org_code,
            branch,
            data.get("message", ""),
        )
        return cookies, branch

    def _choose_branch(self, listed: list[Any]) -> int:
        ids: dict[int, str] = {}
        for item in listed:
            branch = as_int(item.get("id")) if isinstance(item, Mapping) else None
            if branch is not None and isinstance(item, Mapping):
                ids[branch] = str(item.get("ack", ""))
        configured = self.settings.luca_branch_id
        if configured is not None:
            if configured not in ids:
                known = ", ".join(f"{i} ({n})" for i, n in ids.items()) or "none"
                raise ConfigError(f"LUCA_BRANCH_ID {configured} is not a branch of this Luca user; available: {known}")
            return configured
        if len(ids) == 1:
            return next(iter(ids))
        if not ids:
            raise TransientError("Luca listed no branches for this user (session may be broken)")
        known = ", ".join(f"{i} ({n})" for i, n in ids.items())
        raise ConfigError(f"the Luca user has {len(ids)} branches ({known}); set LUCA_BRANCH_ID to one of them")

    # -- look-ups --------------------------------------------------------------------------

    def _list(
        self, action: str, body: Mapping[str, Any], query: str = "", lookup: bool = False
    ) -> list[dict[str, Any]]:
        """A whole list (``No-Paging``). Reads are safe to resend, so transient failures are
        retried here; a list that still fails raises (never an empty or partial list). A look-up
        made for one item (``lookup``) gets fewer tries: the engine retries the item as well."""
        return (self._lookup_retrying if lookup else self._list_retrying)(action, body, query)

    def _list_once(self, action: str, body: Mapping[str, Any], query: str) -> list[dict[str, Any]]:
        data = self.call(action + query, body, expect="list", headers=NO_PAGING)
        rows = data.get("list")
        if not isinstance(rows, list):
            raise TransientError(f"Luca {action}: 'list' is not a list")
        size = data.get("size")
        # With No-Paging the list must be complete; a short list is a truncated one (F21).
        if isinstance(size, int) and size > len(rows):
            raise TransientError(f"Luca {action}: got {len(rows)} of {size} records despite No-Paging")
        return [r for r in rows if isinstance(r, dict)]

    def units(self) -> dict[str, int]:
        rows = self._list("ListeleGnlOlcumBirimi.do", {})
        units = {str(r.get("tanim", "")).strip().lower(): as_int(r.get("id")) for r in rows}
        return {name: unit for name, unit in units.items() if unit is not None}

    def stock_cards(
        self, code_from: str | None = None, code_to: str | None = None, lookup: bool = False
    ) -> dict[str, int]:
        body: dict[str, Any] = {}
        if code_from is not None:
            body = {"stkSkart": {"kodBas": code_from, "kodBit": code_to or code_from, "kodOp": "between"}}
        rows = self._list("ListeleStkSkart.do", body, lookup=lookup)
        return {str(r.get("kod") or r.get("kartKodu")): int(r["skartId"]) for r in rows if r.get("skartId") is not None}

    def customers(
        self, code_from: str | None = None, code_to: str | None = None, lookup: bool = False
    ) -> dict[str, int]:
        body: dict[str, Any] = {}
        if code_from is not None:
            body = {
                "finMusteri": {
                    "gnlFinansalNesne": {"kodBas": code_from, "kodBit": code_to or code_from, "kodOp": "between"}
                }
            }
        rows = self._list("ListeleFinMusteri.do", body, lookup=lookup)
        out: dict[str, int] = {}
        for r in rows:
            code = str(r.get("kod") or r.get("kartKod") or "")
            if code and r.get("finansalNesneId") is not None:
                # Luca has no uniqueness on cari codes; keep the oldest record as the canonical one.
                out.setdefault(code, int(r["finansalNesneId"]))
                out[code] = min(out[code], int(r["finansalNesneId"]))
        return out

    def invoices(self, tracking_from: str, tracking_to: str, lookup: bool = False) -> dict[str, int]:
        body = {
            "ftrSsFaturaBaslik": {
                "gnlOrgSsBelge": {
                    "belgeTakipNoBas": tracking_from,
                    "belgeTakipNoBit": tracking_to,
                    "belgeTakipNoOp": "between",
                }
            },
            "parUstHareketTuru": 18,
        }
        out: dict[str, int] = {}
        for r in self._list("ListeleFtrSsFaturaBaslik.do", body, lookup=lookup):
            key = str(r.get("belgeTakipNo") or "")
            if key and r.get("ssFaturaBaslikId") is not None:
                out[key] = min(out.get(key, int(r["ssFaturaBaslikId"])), int(r["ssFaturaBaslikId"]))
        return out

    # -- whole records (reconciliation) -----------------------------------------------------

    def records(self, sync_type: str, settings: Settings) -> list[tuple[str, int, dict[str, Any]]]:
        """Every Luca record of a sync type's kind as (natural key, Luca id, list row)."""
        if sync_type == "PRODUCT":
            rows = self._list("ListeleStkSkart.do", {})
            pairs = ((r.get("kod") or r.get("kartKodu"), r.get("skartId"), r) for r in rows)
        elif sync_type == "CUSTOMER":
            prefix = settings.customer_code_template.split("{id}")[0]
            flt = {"kodBas": prefix, "kodBit": prefix + "\uffff", "kodOp": "between"} if prefix else {}
            rows = self._list("ListeleFinMusteri.do", {"finMusteri": {"gnlFinansalNesne": flt}} if flt else {})
            pairs = ((r.get("kod") or r.get("kartKod"), r.get("finansalNesneId"), r) for r in rows)
        else:
            prefix = settings.invoice_tracking_prefix
            body = {
                "ftrSsFaturaBaslik": {
                    "gnlOrgSsBelge": {"belgeTakipNoBas": prefix, "belgeTakipNoBit": prefix + "\uffff",
                                      "belgeTakipNoOp": "between"}
                },
                "parUstHareketTuru": 18,
            }  # fmt: skip
            rows = self._list("ListeleFtrSsFaturaBaslik.do", body)
            pairs = ((r.get("belgeTakipNo"), r.get("ssFaturaBaslikId"), r) for r in rows)
        out = []
        for code, luca_id, row in pairs:
            number = as_int(luca_id)
            if code and number is not None:
                out.append((str(code), number, row))
        return out

    def stock_card_row(self, code: str) -> dict[str, Any] | None:
        """One card as Luca's list shows it (dry runs: what an update would change)."""
        body = {"stkSkart": {"kodBas": code, "kodBit": code, "kodOp": "between"}}
        rows = self._list("ListeleStkSkart.do", body)
        return next((r for r in rows if str(r.get("kod") or r.get("kartKodu")) == code), None)

    # Look-ups by natural key are made for one item: LUCA_LOOKUP_TRIES here, the engine retries the item.

    def find_stock_card(self, code: str) -> int | None:
        return self.stock_cards(code, code, lookup=True).get(code)

    def find_customer(self, code: str) -> int | None:
        return self.customers(code, code, lookup=True).get(code)

    def find_invoice(self, tracking: str) -> int | None:
        return self.invoices(tracking, tracking, lookup=True).get(tracking)

    # -- writes (one record per request: Luca takes no arrays) -------------------------------

    def create_stock_card(self, payload: Mapping[str, Any]) -> int:
        return int(self.call("EkleStkWsSkart.do", payload, expect="skartId", write=True)["skartId"])

    def update_stock_card(self, skart_id: int, payload: Mapping[str, Any]) -> None:
        # An update is idempotent, so resending after a session loss is harmless.
        self.call("GuncelleStkWsSkart.do", {**payload, "skartId": skart_id})

    def create_customer(self, payload: Mapping[str, Any]) -> int:
        return int(self.call("EkleFinMusteriWS.do", payload, expect="finansalNesneId", write=True)["finansalNesneId"])

    def create_invoice(self, payload: Mapping[str, Any]) -> int:
        data = self.call("EkleFtrWsFaturaBaslik.do", payload, expect="ssFaturaBaslikId", write=True)
        return int(data["ssFaturaBaslikId"])


def classify_login(resp: requests.Response) -> dict[str, Any]:
    """Login succeeds iff ``code == 0``; a cookie alone proves nothing (F2)."""
    try:
        data = classify(resp, "login")
    except SessionExpired as exc:
        raise TransientError(f"Luca login answered code {exc.code}") from exc
    except BusinessError as exc:
        # code 99 "Kullanıcı-Parola Bilgisi Yanlış!": retrying would only lock the account.
        raise AccessRefused(
            f"Luca refused the login ({exc}); check LUCA_ORG_CODE, LUCA_USERNAME, LUCA_PASSWORD"
        ) from exc
    code = data.get("code")
    if code != 0:
        raise TransientError(f"Luca login: unexpected reply code {code!r}")
    return data
