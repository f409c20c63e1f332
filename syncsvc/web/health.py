"""Read-only health views: the engine's Luca caches in Redis and the readiness checks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import redis
import requests

from syncsvc.clients.budget import KatanaBudget
from syncsvc.clients.luca import LucaClient
from syncsvc.defaults import READY_TIMEOUT_S
from syncsvc.domain.errors import AccessRefused, ConfigError, SyncError
from syncsvc.keys import Keys, as_str
from syncsvc.settings import Settings
from syncsvc.store.history import History
from syncsvc.store.redis_conn import redact_url

# Response name -> the engine's cache hash (``{prefix}:luca:<name>``, meta in ``<hash>:meta``).
CACHES = {"stockCards": "stockcard", "customers": "customer", "invoices": "invoice"}


def _text(raw: Any) -> str | None:
    return None if raw is None else as_str(raw)


def cache_status(conn: redis.Redis, settings: Settings) -> dict[str, Any]:
    """Entries, warm-up time and a verdict per cache. Empty or never-warmed caches are unhealthy:
    the engine warms a cache before a run writes, so "not warmed" means no run has passed yet."""
    out: dict[str, Any] = {}
    pipe = conn.pipeline()
    for name in CACHES.values():
        keys = Keys(settings.key_prefix)
        pipe.hlen(keys.cache(name))
        pipe.hgetall(keys.cache_meta(name))
    replies = pipe.execute()
    for index, label in enumerate(CACHES):
        entries = int(replies[2 * index])
        meta = {_text(k): _text(v) for k, v in (replies[2 * index + 1] or {}).items()}
        warmed_at = meta.get("warmed_at")
        count = meta.get("count") or ""
        if not warmed_at:
            healthy, message = False, "Not warmed yet: runs warm it before writing"
        elif entries == 0:
            healthy, message = False, "Empty: warmed but holds no entries"
        else:
            healthy, message = True, f"Healthy: {entries} entries cached"
        out[label] = {
            "entries": entries,
            "warmedAt": warmed_at,
            "warmedCount": int(count) if count.isdigit() else None,
            "healthy": healthy,
            "message": message,
        }
    return out


Check = Callable[[], str]
# Remote checks (a Katana request, a Luca call that may log in) are cached in Redis this long, so
# probes every few seconds from several web workers cost Katana's quota and Luca's login at most
# once per period; a failure is re-checked sooner.
REMOTE_OK_CACHE_S = 60
REMOTE_FAIL_CACHE_S = 10


def readiness(
    conn: redis.Redis, redis_url: str, settings: Settings, history: Callable[[], History]
) -> tuple[bool, dict[str, Any]]:
    """Run every check; each reports ok, detail and milliseconds. Any failure makes the service unready.
    The history check also reports the schema version (``schemaVersion``, ``latestSchemaVersion``)."""
    schema: dict[str, Any] = {}
    checks: dict[str, Check] = {
        "redis": lambda: _check_redis(conn, redis_url),
        "historyDb": lambda: _check_history(history, schema),
        "katana": lambda: _cached(conn, settings, "katana", lambda: _check_katana(conn, settings)),
        "luca": lambda: _cached(conn, settings, "luca", lambda: _check_luca(conn, settings)),
    }
    results: dict[str, Any] = {}
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            detail, ok = check(), True
        except Exception as exc:  # each check reports its own failure; none may crash the probe
            detail, ok = (str(exc) if isinstance(exc, SyncError) else f"{type(exc).__name__}: {exc}")[:300], False
        results[name] = {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}
    results["historyDb"].update(schema)
    return all(r["ok"] for r in results.values()), results


def _check_redis(conn: redis.Redis, redis_url: str) -> str:
    conn.ping()
    return f"PING ok at {redact_url(redis_url)}"


def _check_history(history: Callable[[], History], schema: dict[str, Any]) -> str:
    info = history().check(READY_TIMEOUT_S)
    schema.update(schemaVersion=info["schemaVersion"], latestSchemaVersion=info["latest"])
    return f"heartbeat row written: {info['where']}, schema v{info['schemaVersion']}"


class CheckFailed(SyncError):
    """A readiness check's answer, cached like a success."""


def _cached(conn: redis.Redis, settings: Settings, name: str, check: Check) -> str:
    key = Keys(settings.key_prefix).ready_check(name)
    try:
        raw = conn.get(key)
    except redis.RedisError:
        raw = None
    if raw:
        stored = json.loads(raw)
        if not stored["ok"]:
            raise CheckFailed(stored["detail"])
        return f"{stored['detail']} (checked {int(time.time() - stored['at'])} s ago)"
    try:
        detail, ok = check(), True
    except Exception as exc:
        detail, ok = (str(exc) if isinstance(exc, SyncError) else f"{type(exc).__name__}: {exc}")[:300], False
    try:
        ttl = REMOTE_OK_CACHE_S if ok else REMOTE_FAIL_CACHE_S
        conn.set(key, json.dumps({"ok": ok, "detail": detail, "at": time.time()}), ex=ttl)
    except redis.RedisError:
        pass
    if not ok:
        raise CheckFailed(detail)
    return detail


def _check_katana(conn: redis.Redis, settings: Settings) -> str:
    """One authenticated list request of one row, through the shared budget (it counts against
    Katana's 60/min like any other)."""
    url = settings.katana_base_url
    budget = KatanaBudget(
        conn, settings.key_prefix, settings.katana_api_key, settings.katana_rate_requests, settings.katana_rate_window_s
    )
    budget.acquire(deadline_s=READY_TIMEOUT_S)
    try:
        resp = requests.get(
            f"{url}/customers",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {settings.katana_api_key}", "Accept": "application/json"},
            timeout=READY_TIMEOUT_S,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise CheckFailed(f"Katana unreachable at KATANA_BASE_URL={url}: {type(exc).__name__}") from None
    if resp.status_code == 401:
        raise CheckFailed("Katana refused KATANA_API_KEY (HTTP 401)")
    if resp.status_code == 404:
        raise CheckFailed(f"Katana answered 404 at KATANA_BASE_URL={url}: the URL should end in /v1")
    if resp.status_code == 429:
        return f"Katana accepted the key (rate limited right now) at {url}"
    if resp.status_code != 200:
        raise CheckFailed(f"Katana answered HTTP {resp.status_code} at KATANA_BASE_URL={url}")
    try:
        resp.json()["data"]
    except (ValueError, KeyError, TypeError):
        raise CheckFailed(f"KATANA_BASE_URL={url} answered 200 but not like Katana's API (no data list)") from None
    return f"Katana accepted the key at {url}"


def _check_luca(conn: redis.Redis, settings: Settings) -> str:
    """An authenticated call through the workers' shared session: it logs in (single-flight, the
    same session the workers then reuse) only when there is no live session, so a probe never
    logs a running worker out."""
    quick = settings.with_overrides(luca_timeout_s=READY_TIMEOUT_S, luca_connect_timeout_s=READY_TIMEOUT_S)
    client = LucaClient(quick, conn)
    try:
        client.call("YdlUserResponsibilityOrgSs.do", {}, expect="list")
    except AccessRefused as exc:
        raise CheckFailed(str(exc)) from None
    except ConfigError as exc:
        raise CheckFailed(str(exc)) from None
    except SyncError as exc:
        raise CheckFailed(f"Luca at LUCA_BASE_URL={settings.luca_base_url} did not answer like Luca: {exc}") from None
    finally:
        client.close()
    return f"Luca session live at {settings.luca_base_url} (user {settings.luca_username})"
