"""Katana's request budget (60 per 60 s per API key), held in Redis for every thread and host.

A sliding log in a sorted set: a request may go when fewer than ``limit`` requests were sent in
the last ``window`` seconds. A sliding window never exceeds the quota inside any fixed window the
server may count in, so a normal run never meets a 429. The window gets a safety margin for the
network delay between our timestamp and the server's count. Time comes from Redis (``TIME``) so
hosts with skewed clocks agree. A 429 that happens anyway (another tool on the same key) sets a
shared cool-down that every caller honours, and ``X-Ratelimit-Remaining`` lower than we expect
pads the log so we slow down before the server says so.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable

import redis

from syncsvc import metrics
from syncsvc.keys import Keys

log = logging.getLogger(__name__)

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cool = tonumber(redis.call('GET', KEYS[2]) or '0')
if cool > now then return cool - now end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + window - now + 1
"""

_PAD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local missing = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
for i = 1, missing do redis.call('ZADD', KEYS[1], now, ARGV[3] .. i) end
redis.call('PEXPIRE', KEYS[1], window)
return missing
"""


class KatanaBudget:
    """Blocking ``acquire()`` before each Katana request; shared through Redis."""

    def __init__(
        self, conn: redis.Redis, prefix: str, api_key: str, limit: int, window_s: float, margin_s: float = 1.0
    ) -> None:
        # The key name carries a hash of the API key, never the key itself.
        key_id = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        self.log_key = Keys(prefix).katana_budget(key_id)
        self.cool_key = Keys(prefix).katana_cooldown(key_id)
        self.limit = limit
        self.window_ms = int((window_s + margin_s) * 1000)
        self._acquire = conn.register_script(_ACQUIRE)
        self._pad = conn.register_script(_PAD)
        self.conn = conn

    def acquire(self, deadline_s: float = 600.0, on_wait: Callable[[], None] | None = None) -> None:
        """Wait until a request may be sent; raises TimeoutError after ``deadline_s``.

        Waits are slept in short slices calling ``on_wait``, so a run waiting out a full window
        keeps its lock and progress heartbeat alive."""
        started = time.monotonic()
        waited = False
        while True:
            wait_ms = int(
                self._acquire(keys=[self.log_key, self.cool_key], args=[self.limit, self.window_ms, uuid.uuid4().hex])
            )
            if wait_ms <= 0:
                return
            if time.monotonic() - started + wait_ms / 1000 > deadline_s:
                raise TimeoutError(f"Katana budget still exhausted after {deadline_s:.0f} s")
            if not waited:
                metrics.inc("katana_budget_waits_total")
                log.info(
                    "Katana request budget used up: waiting %.1f s", wait_ms / 1000,
                    extra={"delay_s": round(wait_ms / 1000, 3), "reason": "katana_budget"},
                )  # fmt: skip
            waited = True
            pause = min(wait_ms / 1000, 2.0)
            time.sleep(pause)
            if on_wait is not None:
                on_wait()

    def cool_down(self, seconds: float) -> None:
        """The server said 429 + Retry-After: nobody sends before that moment (never shortened)."""
        now_s, now_us = self.conn.time()
        until = int(now_s * 1000 + now_us / 1000 + seconds * 1000)
        self.conn.set(self.cool_key, until, px=int(seconds * 1000) + 1000)

    def observe_remaining(self, remaining: int) -> None:
        """Pad our log when the server counts more requests than we did (another client)."""
        used_by_server = self.limit - max(0, remaining)
        self._pad(keys=[self.log_key], args=[used_by_server, self.window_ms, f"pad-{uuid.uuid4().hex}-"])
