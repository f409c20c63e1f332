"""Katana MRP client: read-only, paged to the end, inside the shared request budget.

Only GET is ever sent (nothing is written to Katana). A page that still fails after retries
fails the whole fetch with RunAborted: a silently partial list is how the origin integration
lost products and orders.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import backoff
import requests
from requests.adapters import HTTPAdapter

from syncsvc import metrics
from syncsvc.clients.budget import KatanaBudget
from syncsvc.defaults import (
    KATANA_429_TRIES,
    KATANA_IDS_PER_CALL,
    KATANA_PAGE_SIZE,
    KATANA_RETRY_BASE_S,
    KATANA_RETRY_MAX_S,
    KATANA_TRANSIENT_TRIES,
)
from syncsvc.domain.errors import AccessRefused, RateLimited, RunAborted, TransientError, Unavailable, is_retryable
from syncsvc.domain.model import iso_utc
from syncsvc.net import pinned_session

log = logging.getLogger(__name__)

PAGE_SIZE = KATANA_PAGE_SIZE
IDS_PER_CALL = KATANA_IDS_PER_CALL


def _waits() -> Generator[float, Any, None]:
    """Back-off between tries of one GET, fed the exception by ``backoff``. A 429 waits 0 here:
    ``budget.cool_down`` holds every caller on every worker until Retry-After has passed (with
    heartbeats), so the server's wait is honoured exactly, never jittered below it. Other
    transient failures double from KATANA_RETRY_BASE_S with up to 25 % extra."""
    exc = yield 0.0  # primed by backoff
    tries = 0
    while True:
        if isinstance(exc, RateLimited):
            exc = yield 0.0
            continue
        tries += 1
        delay = min(KATANA_RETRY_MAX_S, KATANA_RETRY_BASE_S * 2 ** (tries - 1))
        exc = yield delay * (1 + random.random() * 0.25)


def _retry_after(value: str | None) -> float:
    """Retry-After in seconds, or an HTTP date; at least 1 s."""
    if not value:
        return 1.0
    try:
        return max(1.0, float(value))
    except ValueError:
        pass
    try:
        return max(1.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return 1.0


def _pagination(resp: requests.Response) -> dict[str, Any]:
    """``X-Pagination`` is a JSON object whose values arrive as strings ("142", "false")."""
    raw = resp.headers.get("X-Pagination")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    out: dict[str, Any] = {}
    for key, value in data.items() if isinstance(data, dict) else []:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            out[key] = value.lower() == "true"
        else:
            try:
                out[key] = int(value)
            except (TypeError, ValueError):
                out[key] = value
    return out


class KatanaClient:
    """GET-only client. Thread-safe for the fixed host it talks to."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        budget: KatanaBudget,
        timeout_s: float = 30.0,
        pool: int = 10,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.budget = budget
        self.timeout = (3.05, timeout_s)
        self.http = pinned_session(self.base_url)
        self.http.mount(self.base_url, HTTPAdapter(pool_connections=1, pool_maxsize=pool))
        self.http.headers.update({"Authorization": f"Bearer {api_key}", "Accept": "application/json"})
        self.requests_sent = 0
        self.rate_limited = 0
        # Called between requests and while waiting for budget: progress, and the run's alive check.
        self.heartbeat = heartbeat

    def close(self) -> None:
        self.http.close()

    # -- one request ---------------------------------------------------------------------------

    def _get_once(self, path: str, params: Mapping[str, Any]) -> requests.Response:
        self.budget.acquire(on_wait=self.heartbeat)
        if self.heartbeat is not None:
            self.heartbeat()
        self.requests_sent += 1
        resource = path.strip("/").split("/")[0] or "root"
        started = time.perf_counter()
        try:
            resp = self.http.get(f"{self.base_url}/{path.lstrip('/')}", params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            metrics.inc("katana_requests_total", resource=resource, status="error")
            metrics.observe("katana_request_seconds", time.perf_counter() - started, resource=resource)
            raise TransientError(f"Katana GET {path}: {type(exc).__name__}") from exc
        metrics.inc("katana_requests_total", resource=resource, status=str(resp.status_code))
        metrics.observe("katana_request_seconds", time.perf_counter() - started, resource=resource)
        remaining = resp.headers.get("X-Ratelimit-Remaining")
        if remaining is not None and remaining.strip().lstrip("-").isdigit():
            self.budget.observe_remaining(int(remaining))
        if resp.status_code == 429:
            self.rate_limited += 1
            wait = _retry_after(resp.headers.get("Retry-After"))
            self.budget.cool_down(wait)
            metrics.inc("katana_rate_limited_total")
            log.warning(
                "Katana answered 429 for %s: waiting %.1f s (Retry-After)", path, wait,
                extra={"delay_s": wait, "reason": "katana_429"},
            )  # fmt: skip
            raise RateLimited(f"Katana GET {path}: 429, retry after {wait:.0f} s", wait)
        if resp.status_code >= 500:
            raise TransientError(f"Katana GET {path}: HTTP {resp.status_code}")
        if resp.status_code == 401:
            raise AccessRefused("Katana refused the API key (401): check KATANA_API_KEY")
        if resp.status_code != 200:
            raise RunAborted(f"Katana GET {path}: HTTP {resp.status_code} {resp.text[:200]}")
        return resp

    def get(self, path: str, params: Mapping[str, Any]) -> requests.Response:
        """GET with retries (reads are retried here, nowhere else): a 429 waits the server's
        Retry-After, other transient failures back off exponentially. Still failing ->
        :class:`Unavailable` (the run stops; RQ may retry it later)."""
        counts = {"limited": 0, "transient": 0}

        def give_up(exc: Exception) -> bool:
            if not is_retryable(exc):
                return True
            kind = "limited" if isinstance(exc, RateLimited) else "transient"
            counts[kind] += 1
            return counts[kind] >= (KATANA_429_TRIES if kind == "limited" else KATANA_TRANSIENT_TRIES)

        retrying = backoff.on_exception(_waits, Exception, max_tries=None, giveup=give_up, jitter=None, logger=None)(
            self._get_once
        )
        try:
            return retrying(path, params)
        except RateLimited as exc:
            raise Unavailable(f"Katana kept answering 429 for {path}") from exc
        except TransientError as exc:
            raise Unavailable(
                f"{exc} (after {counts['transient']} tries); nothing was synced from a partial list"
            ) from exc

    # -- lists ---------------------------------------------------------------------------------

    def scan(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        on_page: Callable[[list[dict[str, Any]]], None],
        max_items: int | None = None,
        scans: int = 3,
        growing: bool = False,
    ) -> int:
        """Stream every record of a list endpoint to ``on_page``, one page at a time, so a caller
        can map and drop raw rows as they arrive. Returns the number of distinct records.

        Lists are newest-first and can't be sorted by update time, so a record created or deleted
        mid-scan shifts the pages. When the reported total changes between pages or the scan saw
        fewer distinct records than the total, the scan is repeated: ``on_page`` then sees records
        again and must be idempotent by id.

        ``growing``: the caller reads a set that can only grow while it pages (an
        ``updated_at_min`` window with ``include_deleted`` and ``include_archived``: an edit, a
        delete or an archive keeps a record in the window). Growth pushes records down a page
        (repeats, harmless) and can slip a newcomer onto a page already read, which the caller's
        cursor catches next time (see ``jobs/scope.py``). The scan is complete when it saw at
        least as many distinct records as the first page reported: fewer means a record present
        from the start was skipped after all, and the scan is repeated.
        """
        for attempt in range(1, scans + 1):
            ids, totals = self._scan(path, dict(params or {}), max_items, on_page)
            if growing and (not totals or len(ids) >= totals[0]):
                return len(ids)
            if max_items is not None or (len(set(totals)) <= 1 and (not totals or len(ids) >= totals[-1])):
                return len(ids)
            log.warning("Katana %s changed while paging (totals %s, got %d); rescanning (%d/%d)",
                        path, totals, len(ids), attempt, scans)  # fmt: skip
        raise Unavailable(f"Katana {path} kept changing while paging; try again later")

    def list_all(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        max_items: int | None = None,
        scans: int = 3,
        growing: bool = False,
    ) -> list[dict[str, Any]]:
        """Every record of a list endpoint, paged to the end (de-duplicated by id)."""
        rows: dict[Any, dict[str, Any]] = {}

        def keep(page: list[dict[str, Any]]) -> None:
            for row in page:
                rows[row.get("id", ("no-id", len(rows)))] = row

        self.scan(path, params, on_page=keep, max_items=max_items, scans=scans, growing=growing)
        return list(rows.values())[:max_items]

    def _scan(
        self, path: str, params: dict[str, Any], max_items: int | None, on_page: Callable[[list[dict[str, Any]]], None]
    ) -> tuple[set[Any], list[int]]:
        ids: set[Any] = set()
        totals: list[int] = []
        page = 1
        while True:
            resp = self.get(path, {**params, "limit": PAGE_SIZE, "page": page})
            try:
                data = resp.json()["data"]
                if not isinstance(data, list):
                    raise TypeError("data is not a list")
            except (ValueError, KeyError, TypeError) as exc:
                raise Unavailable(f"Katana {path} page {page}: unexpected body ({exc})") from exc
            rows = [r for r in data if isinstance(r, dict)]
            ids.update(r.get("id", ("no-id", page, i)) for i, r in enumerate(rows))
            on_page(rows)
            meta = _pagination(resp)
            if isinstance(meta.get("total_records"), int):
                totals.append(meta["total_records"])
            if max_items is not None and len(ids) >= max_items:
                break
            if meta.get("last_page") is True or len(data) < PAGE_SIZE:
                break
            total_pages = meta.get("total_pages")
            if isinstance(total_pages, int) and page >= total_pages:
                break
            page += 1
        return ids, totals

    def list_changed(
        self, path: str, since: datetime, params: Mapping[str, Any] | None = None, overlap_s: float = 60.0
    ) -> list[dict[str, Any]]:
        """Records updated since ``since`` (incremental read), tombstones included.

        The window starts ``overlap_s`` earlier: lists are not ordered by update time, so a record
        changed while an earlier scan paged could otherwise fall between two windows. Deleted
        records come back with ``deleted_at`` set (Katana moves ``updated_at`` on soft delete).
        """
        stamp = iso_utc(since - timedelta(seconds=overlap_s))
        return self.list_all(path, {**dict(params or {}), "updated_at_min": stamp, "include_deleted": "true"})

    def get_by_ids(
        self, path: str, ids: Iterable[int], params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Bulk look-up (``ids=1&ids=2...``), never one request per record."""
        wanted = sorted({int(i) for i in ids})
        out: list[dict[str, Any]] = []
        for start in range(0, len(wanted), IDS_PER_CALL):
            chunk = wanted[start : start + IDS_PER_CALL]
            out.extend(self.list_all(path, {**dict(params or {}), "ids": chunk}))
        return out
