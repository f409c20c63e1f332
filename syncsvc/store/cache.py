"""Redis id caches: natural key -> Luca id, plus the digest of what we last sent.

One hash per record kind (``{prefix}:luca:stockcard``, ``...:customer``, ``...:invoice``), a
``:digest`` hash for change detection and a ``:meta`` hash (``warmed_at``, ``count``). The cache
is an accelerator, not the source of truth: every run warms it from Luca's own list first, so a
flushed or stale cache can't cause a duplicate. A warm-up that comes back empty while the cache
held entries is treated as a broken Luca reply (the origin integration re-created everything
after exactly that), and aborts the run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import redis

from syncsvc.defaults import CREATE_CLAIM_TTL_S, CREATE_PENDING_TTL_S
from syncsvc.domain.errors import TransientError, Unavailable
from syncsvc.keys import Keys, as_str

KINDS = ("stockcard", "customer", "invoice")
CLAIM_TTL_S = CREATE_CLAIM_TTL_S
PENDING_TTL_S = CREATE_PENDING_TTL_S
# KEYS: claim, pending marker, id hash, digest hash. ARGV: token, owner prefix, claim ms, pending s, code.
_ACQUIRE = """
local held = redis.call('GET', KEYS[1])
local interrupted = redis.call('EXISTS', KEYS[2])
if held then
  if ARGV[2] == '' or string.sub(held, 1, string.len(ARGV[2])) ~= ARGV[2] then return {0} end
  interrupted = 1  -- our own dead attempt's claim: take it over, but look up first
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[4])
return {1, interrupted, redis.call('HGET', KEYS[3], ARGV[5]) or '', redis.call('HGET', KEYS[4], ARGV[5]) or ''}
"""
# KEYS: as above. ARGV: token, code, id or '', digest or '', cache ttl, outcome known (1/0), hold ms.
_RELEASE = """
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3]); redis.call('EXPIRE', KEYS[3], ARGV[5])
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], ARGV[2], ARGV[4]); redis.call('EXPIRE', KEYS[4], ARGV[5]) end
end
if ARGV[6] == '1' then redis.call('DEL', KEYS[2]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  if tonumber(ARGV[7]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[7]) else redis.call('DEL', KEYS[1]) end
end
return 1
"""

# KEYS: id hash, digest hash. ARGV: code, id seen before the list was read, code, id, ...
# Drop an entry (and its digest) only if it still holds the id seen: a newer one was just cached.
_DROP_UNCHANGED = """
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i]); redis.call('HDEL', KEYS[2], ARGV[i])
  end
end
return 1
"""


class CreateClaim:
    """The right to create one record (see :meth:`IdCache.creating`), with what Redis held for
    it at the moment the claim was taken."""

    def __init__(self, luca_id: int | None, digest: str | None, must_look_up: bool) -> None:
        self.luca_id = luca_id
        self.digest = digest
        self.must_look_up = must_look_up  # another holder was interrupted: a create may be unrecorded
        self.recorded: tuple[int, str] | None = None
        self.hold_s = 0.0  # keep other creators out this long after release (a write may still land)

    def record(self, luca_id: int, digest: str | None) -> None:
        """Cache this id (and digest) when the claim is released, in the same round trip."""
        self.recorded = (luca_id, digest or "")


class IdCache:
    def __init__(self, conn: redis.Redis, prefix: str, kind: str, ttl_s: int) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown cache kind {kind!r}")
        self.conn = conn
        self.kind = kind
        self.keys = Keys(prefix)
        self.key = self.keys.cache(kind)
        self.digest_key = self.keys.cache_digests(kind)
        self.meta_key = self.keys.cache_meta(kind)
        self.ttl_s = ttl_s
        self._acquire = conn.register_script(_ACQUIRE)
        self._release = conn.register_script(_RELEASE)
        # code -> (id, digest) read in bulk right after the warm-up; each entry serves one lookup.
        self._prefetched: dict[str, tuple[int | None, str | None]] = {}

    # -- reads ---------------------------------------------------------------------------------

    def lookup(self, code: str) -> tuple[int | None, str | None]:
        hit = self._prefetched.pop(code, None)  # atomic: each pool thread takes its own item's entry
        if hit is not None:
            return hit
        pipe = self.conn.pipeline(transaction=False)
        pipe.hget(self.key, code)
        pipe.hget(self.digest_key, code)
        raw_id, raw_digest = pipe.execute()
        return (int(raw_id) if raw_id else None, as_str(raw_digest) if raw_digest else None)

    def unchanged(self, code: str, digest: str) -> int | None:
        """The Luca id when the prefetched snapshot already says Luca holds exactly ``digest``:
        the answer the first ``lookup`` would give, taken here so the item needs no pool thread.
        Any other entry stays for ``lookup``."""
        hit = self._prefetched.get(code)
        if hit is None or hit[0] is None or hit[1] != digest:
            return None
        self._prefetched.pop(code, None)
        return hit[0]

    def fresh(self, code: str) -> tuple[int | None, str | None]:
        """Read Redis now, bypassing the prefetched snapshot."""
        self._prefetched.pop(code, None)
        return self.lookup(code)

    @contextmanager
    def creating(self, code: str, owner: str = "", wait_s: float = 150.0) -> Iterator[CreateClaim]:
        """Hold the right to create ``code`` across every run, thread and host.

        Luca has no uniqueness guard for cari and invoices, and different sync types may need the
        same record at once (a CUSTOMER run and an INVOICE run's dependencies): both would see it
        missing and both create it. Taking the claim also reads the record's current id and
        digest (a concurrent creator caches them before it releases). The claim expires if its
        holder dies; a pending marker, set with the claim and cleared once the outcome is cached,
        tells the next holder that a create may have been committed without being recorded.

        ``owner`` is the run id: RQ retries a killed job under the same id, and that retry takes
        over the claims its dead attempt left (looking the records up first) instead of waiting.
        Two Redis round trips per claim (taking it, and recording + releasing), both scripts.
        """
        keys = [
            self.keys.creating(self.kind, code),
            self.keys.create_pending(self.kind, code),
            self.key,
            self.digest_key,
        ]
        token = f"{owner}:{uuid.uuid4().hex}"
        deadline = time.monotonic() + wait_s
        contended = False
        while True:
            got = self._acquire(
                keys=keys, args=[token, f"{owner}:" if owner else "", int(CLAIM_TTL_S * 1000), PENDING_TTL_S, code]
            )
            if int(got[0]) == 1:
                break
            contended = True
            if time.monotonic() > deadline:
                raise TransientError(f"another run has been creating {self.kind} {code} for {wait_s:.0f} s")
            time.sleep(0.05)
        raw_id, raw_digest = as_str(got[2]), as_str(got[3])
        claim = CreateClaim(int(raw_id) if raw_id else None, raw_digest or None, contended or int(got[1]) == 1)
        finished = False
        try:
            yield claim
            finished = True
        finally:
            luca_id, digest = claim.recorded or ("", "")
            # Without an exception the outcome is known (cached now, or already was): clear pending.
            known = finished and (claim.recorded is not None or claim.luca_id is not None)
            self._release(
                keys=keys, args=[token, code, luca_id, digest, self.ttl_s, 1 if known else 0, int(claim.hold_s * 1000)]
            )

    def prefetch(self, codes: Iterable[str], chunk: int = 1000) -> None:
        """Read ids and digests of ``codes`` in bulk for the first ``lookup`` of each.

        A round trip per item was the largest cost of an unchanged re-sync. The snapshot is only as
        old as the warm-up it follows, and it is used once: a retried item reads Redis again. A card
        created meanwhile by another run is met by Luca's duplicate guard (adopt), as before."""
        codes = list(dict.fromkeys(codes))
        for start in range(0, len(codes), chunk):
            part = codes[start : start + chunk]
            pipe = self.conn.pipeline(transaction=False)
            pipe.hmget(self.key, part)
            pipe.hmget(self.digest_key, part)
            ids, digests = pipe.execute()
            for code, raw_id, raw_digest in zip(part, ids, digests, strict=True):
                self._prefetched[code] = (int(raw_id) if raw_id else None, as_str(raw_digest) if raw_digest else None)

    def ids(self, codes: Iterable[str]) -> dict[str, int]:
        codes = list(codes)
        if not codes:
            return {}
        values = self.conn.hmget(self.key, codes)
        return {c: int(v) for c, v in zip(codes, values, strict=True) if v}

    def age_s(self) -> float:
        """Seconds since the last warm-up from Luca's list (infinite when never warmed)."""
        raw = self.conn.hget(self.meta_key, "warmed_epoch")
        try:
            return time.time() - int(raw) if raw is not None else float("inf")
        except ValueError:
            return float("inf")

    def count(self) -> int:
        return int(self.conn.hlen(self.key))

    def status(self) -> dict[str, Any]:
        meta = {as_str(k): as_str(v) for k, v in self.conn.hgetall(self.meta_key).items()}
        entries = self.count()
        return {
            "entries": entries,
            "warmedAt": meta.get("warmed_at"),
            "healthy": bool(meta.get("warmed_at")),
            "message": f"Healthy: {entries} entries cached" if meta.get("warmed_at") else "Not warmed yet",
        }

    # -- writes --------------------------------------------------------------------------------

    def put(self, code: str, luca_id: int, digest: str | None = None) -> None:
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(self.key, code, luca_id)
        if digest is not None:
            pipe.hset(self.digest_key, code, digest)
        for key in (self.key, self.digest_key):
            pipe.expire(key, self.ttl_s)
        pipe.execute()

    def warm(self, fetch: Callable[[], Mapping[str, int]]) -> dict[str, int]:
        """Bring the id map in line with Luca's list (``fetch`` reads it). Digests survive only
        where the id is unchanged (a card deleted and re-created by a person gets a new id and
        must be rewritten).

        The cache is read BEFORE Luca's list and only entries seen then are dropped (each only if
        it still holds the value seen): a record another run creates and caches while the list is
        being read is not in that list, and dropping it would let the next creator create it
        again (two runs of different types at once made a duplicate cari exactly so)."""
        old = {as_str(k): int(v) for k, v in self.conn.hgetall(self.key).items()}
        luca_ids = fetch()
        held = max(len(old), self.count())
        if not luca_ids and held > 0:
            raise Unavailable(
                f"Luca listed no {self.kind} records while the cache holds {held}: refusing to continue "
                "(an empty list from a broken session would make us re-create everything)"
            )
        stale = [code for code, old_id in old.items() if luca_ids.get(code) != old_id]
        pipe = self.conn.pipeline(transaction=True)
        for start in range(0, len(stale), 1000):
            pairs = [str(x) for code in stale[start : start + 1000] for x in (code, old[code])]
            pipe.eval(_DROP_UNCHANGED, 2, self.key, self.digest_key, *pairs)
        items = list(luca_ids.items())
        for start in range(0, len(items), 1000):
            pipe.hset(self.key, mapping=dict(items[start : start + 1000]))
        pipe.hset(
            self.meta_key,
            mapping={
                "warmed_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "count": len(luca_ids),
                "warmed_epoch": int(time.time()),
            },
        )
        for key in (self.key, self.digest_key, self.meta_key):
            pipe.expire(key, self.ttl_s)
        pipe.execute()
        return {"entries": len(luca_ids), "dropped": len(stale)}
