"""Per-API-key fixed-window rate limiting, as Katana's gateway does it (60 requests / 60 s).

The window starts at a key's first request and lasts ``period`` seconds; the next request after
that opens a new window. Requests answered with 429 still count (spec §1.7, inferred). Real wall
time is used, not the simulator clock: clients sleep on ``Retry-After``/``X-Ratelimit-Reset``
against their own clock.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


def parse_rate(text: str) -> tuple[int, float]:
    """``"60/60"`` -> (60 requests, 60.0 seconds)."""
    count, _, period = text.partition("/")
    limit, seconds = int(count), float(period or "60")
    if limit < 1 or seconds <= 0:
        raise ValueError(f"bad rate {text!r}: want N/SECONDS with N >= 1")
    return limit, seconds


@dataclass
class Bucket:
    window_start: float
    count: int = 0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the window ends
    retry_after: int  # whole seconds, >= 1 (only meaningful when not allowed)


class RateLimiter:
    def __init__(self, limit: int, period: float) -> None:
        self._lock = threading.Lock()
        self.limit = limit
        self.period = period
        self._buckets: dict[str, Bucket] = {}

    def configure(self, limit: int, period: float) -> None:
        with self._lock:
            self.limit, self.period = limit, period

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()

    def hit(self, key: str, now: float | None = None) -> Decision:
        """Count one request for ``key`` and say whether it is within quota."""
        now = time.time() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None or now >= bucket.window_start + self.period:
                bucket = self._buckets[key] = Bucket(window_start=now)
            bucket.count += 1
            reset_at = bucket.window_start + self.period
            return Decision(
                allowed=bucket.count <= self.limit,
                limit=self.limit,
                remaining=max(0, self.limit - bucket.count),
                reset_at=reset_at,
                retry_after=max(1, math.ceil(reset_at - now)),
            )

    def snapshot(self, now: float | None = None) -> dict[str, dict[str, float | int | bool]]:
        now = time.time() if now is None else now
        with self._lock:
            out: dict[str, dict[str, float | int | bool]] = {}
            for key, b in self._buckets.items():
                reset_at = b.window_start + self.period
                expired = now >= reset_at
                out[key] = {
                    "count": 0 if expired else b.count,
                    "limit": self.limit,
                    "remaining": self.limit if expired else max(0, self.limit - b.count),
                    "window_start_ms": int(b.window_start * 1000),
                    "reset_ms": int(reset_at * 1000),
                    "expired": expired,
                }
            return out
