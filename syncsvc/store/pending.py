"""Per sync type, the Katana records webhooks said changed and no run has synced yet.

``{prefix}:pending:<TYPE>`` is a sorted set: member = Katana ref (``variant:5``, ``product:3``,
``material:8``, ``order:9``), score = when the first not-yet-synced event about it arrived (epoch
ms; ``ZADD NX`` keeps the earliest, which is what delivery-to-Luca latency is measured from).
A ref that is already pending absorbs every further event about it: Katana's retries
(``X-Katana-Retry-Num``), the look-alike ``sales_order.updated`` + ``.delivered`` pair and a burst
of edits to one record all become one fetch. Nothing is de-duplicated by payload across time: two
real edits of one variant send byte-identical thin payloads, and dropping the second would lose it.

A drain never deletes what it has not synced. It moves the pending set into
``...:inflight`` (one Lua step), syncs those refs, and deletes ``...:inflight`` only after their
items are written and recorded. A drain killed half way leaves ``...:inflight`` behind, and the
next drain (or RQ's retry of the killed job) takes it again together with the new pending refs;
both keys live in Redis, whose append-only file keeps them across a restart. Only one run per
type holds the run lock, so only one drain at a time owns ``...:inflight``.

A drain takes no start claim, so the run lock's silence alone cannot say *which* job died
holding it: ``...:drain:<TYPE>:running`` names the drain that holds the lock, and stays behind
when its worker is killed. That is how the watchdog (``jobs/recovery.py``) finds the dead drain
and hands it back, whose next execution takes ``...:inflight`` again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable

import redis

from syncsvc.keys import Keys, as_str

_TAKE = """
redis.call('ZUNIONSTORE', KEYS[2], 2, KEYS[2], KEYS[1], 'AGGREGATE', 'MIN')
redis.call('DEL', KEYS[1])
return redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
"""

# One webhook delivery, one round trip: record the ref (keeping its first arrival) and, unless a
# drain is already queued, claim the queued-drain slot for the caller's new job id.
# KEYS: pending, queued. ARGV: score (epoch ms), ref, job id, claim ttl s. -> {new refs, claimed}
_RECORD = """
local new = redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[2])
if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'EX', ARGV[4]) then return {new, 1} end
return {new, 0}
"""
_RECORD_SHA = hashlib.sha1(_RECORD.encode()).hexdigest()
QUEUED_TTL_S = 600
"""A queued-drain claim whose enqueue never happened (a process died in between) expires."""

_DEL_IF = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class PendingEvents:
    def __init__(self, conn: redis.Redis, prefix: str, sync_type: str) -> None:
        self.conn = conn
        self.sync_type = sync_type
        keys = Keys(prefix)
        self.key = keys.webhook_pending(sync_type)
        self.inflight_key = keys.webhook_inflight(sync_type)
        self.queued_key = keys.drain_queued(sync_type)
        self.running_key = keys.drain_running(sync_type)
        self.paced_key = keys.drain_paced(sync_type)

    # -- the one queued drain ------------------------------------------------------------------
    # ``...:drain:<TYPE>:queued`` holds the id of a drain job that is queued and has not started:
    # while it exists every event just joins the pending set (a burst of 1,000 deliveries is one
    # job). The drain deletes it when it starts, so events from then on queue the next drain.

    def claim_drain(self, job_id: str, ttl_s: int = QUEUED_TTL_S) -> bool:
        return bool(self.conn.set(self.queued_key, job_id, nx=True, ex=ttl_s))

    def release_drain(self, job_id: str | None = None) -> None:
        if job_id is None:
            self.conn.delete(self.queued_key)
        else:
            self.conn.eval(_DEL_IF, 1, self.queued_key, job_id)

    def queued_drain(self) -> str | None:
        raw = self.conn.get(self.queued_key)
        return as_str(raw) if raw is not None else None

    # -- the drain holding the run lock ----------------------------------------------------------

    def pace(self, interval_s: float) -> float:
        """0 when a drain may take its events now (and the next one must then wait ``interval_s``),
        else the seconds left before it may."""
        if interval_s <= 0 or self.conn.set(self.paced_key, "1", nx=True, px=max(1, int(interval_s * 1000))):
            return 0.0
        left_ms = int(self.conn.pttl(self.paced_key))
        return max(left_ms, 1) / 1000 if left_ms != -2 else 0.001  # -2: expired just now, ask again

    def mark_running(self, job_id: str) -> None:
        self.conn.set(self.running_key, job_id)

    def running_drain(self) -> str | None:
        raw = self.conn.get(self.running_key)
        return as_str(raw) if raw is not None else None

    def clear_running(self, job_id: str) -> None:
        self.conn.eval(_DEL_IF, 1, self.running_key, job_id)

    def add(self, refs: Iterable[str], at_ms: int | None = None) -> int:
        """Record refs; returns how many were new (0 = every one was already pending)."""
        score = at_ms if at_ms is not None else int(time.time() * 1000)
        mapping = {ref: score for ref in refs}
        return int(self.conn.zadd(self.key, mapping, nx=True) or 0) if mapping else 0

    def record(self, ref: str, at_ms: int, drain_job_id: str) -> tuple[bool, bool]:
        """One delivery in one round trip: ``ref`` joins the pending set, and ``drain_job_id``
        becomes the queued drain when none is. Returns (ref was new, caller must enqueue that drain)."""
        args = (2, self.key, self.queued_key, at_ms, ref, drain_job_id, QUEUED_TTL_S)
        try:
            new, claimed = self.conn.evalsha(_RECORD_SHA, *args)
        except redis.exceptions.NoScriptError:  # a restarted Redis forgot it; EVAL caches it again
            new, claimed = self.conn.eval(_RECORD, *args)
        return bool(new), bool(claimed)

    def take(self) -> dict[str, int]:
        """Move everything pending into the in-flight set and return it all (ref -> first seen)."""
        raw = self.conn.eval(_TAKE, 2, self.key, self.inflight_key)
        pairs = list(raw or [])
        return {as_str(pairs[i]): int(float(pairs[i + 1])) for i in range(0, len(pairs), 2)}

    def done(self) -> None:
        """The taken refs are synced and recorded: forget them."""
        self.conn.delete(self.inflight_key)

    def size(self) -> int:
        pipe = self.conn.pipeline(transaction=False)
        pipe.zcard(self.key)
        pipe.zcard(self.inflight_key)
        return sum(int(n) for n in pipe.execute())

    def oldest_ms(self) -> int | None:
        """When the oldest event still waiting arrived (epoch ms), or None."""
        found: list[int] = []
        for key in (self.key, self.inflight_key):
            for pair in self.conn.zrange(key, 0, 0, withscores=True):
                found.append(int(pair[1]))
        return min(found) if found else None
