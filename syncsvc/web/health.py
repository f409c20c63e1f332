"""Read-only health views: the engine's Luca caches in Redis and the readiness checks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
import requests

from syncsvc.settings import Settings
from syncsvc.store.history import History
from syncsvc.store.redis_conn import redact_url

# Response name -> the engine's cache hash (``{prefix}:luca:<name>``, meta in ``<hash>:meta``).
CACHES = {"stockCards": "stockcard", "customers": "customer", "invoices": "invoice"}
READY_TIMEOUT_S = 2.0


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def cache_status(conn: redis.Redis, settings: Settings) -> dict[str, Any]:
    """Entries, warm-up time and a verdict per cache. Empty or never-warmed caches are unhealthy:
    the engine warms a cache before a run writes, so "not warmed" means no run has passed yet."""
    out: dict[str, Any] = {}
    pipe = conn.pipeline()
    for name in CACHES.values():
        key = settings.redis_key("luca", name)
        pipe.hlen(key)
        pipe.hgetall(key + ":meta")
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


def readiness(
    conn: redis.Redis, redis_url: str, settings: Settings, history: Callable[[], History]
) -> tuple[bool, dict[str, Any]]:
    """Run every check; each reports ok, detail and milliseconds. Any failure makes the service unready.
    The history check also reports the schema version (``schemaVersion``, ``latestSchemaVersion``)."""
    schema: dict[str, Any] = {}
    checks: dict[str, Check] = {
        "redis": lambda: _check_redis(conn, redis_url),
        "historyDb": lambda: _check_history(history, schema),
        "katana": lambda: _check_http(settings.katana_base_url),
        "luca": lambda: _check_http(settings.luca_base_url),
    }
    results: dict[str, Any] = {}
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            detail, ok = check(), True
        except Exception as exc:  # each check reports its own failure; none may crash the probe
            detail, ok = f"{type(exc).__name__}: {exc}"[:300], False
        results[name] = {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}
    results["historyDb"].update(schema)
    return all(r["ok"] for r in results.values()), results


def _check_redis(conn: redis.Redis, redis_url: str) -> str:
    conn.ping()
    return f"PING ok at {redact_url(redis_url)}"


def _check_history(history: Callable[[], History], schema: dict[str, Any]) -> str:
    info = history().check(READY_TIMEOUT_S)
    schema.update(schemaVersion=info["schemaVersion"], latestSchemaVersion=info["latest"])
    return f"writable: {info['where']}, schema v{info['schemaVersion']}"


def _check_http(base_url: str) -> str:
    # Any HTTP answer (even 401/404) proves the host is reachable; credentials are not sent.
    resp = requests.get(base_url, timeout=READY_TIMEOUT_S, allow_redirects=False)
    return f"HTTP {resp.status_code} from {base_url}"
