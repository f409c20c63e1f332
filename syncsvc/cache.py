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
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import redis

from syncsvc.errors import RunAborted, TransientError

KINDS = ("stockcard", "customer", "invoice")
CLAIM_TTL_S = 120.0  # longer than one create can take (client timeout x session heals)
PENDING_TTL_S = 7 * 24 * 3600  # as long as the cache: after that the warm-up knows better
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"


def as_str(value: bytes | str) -> str:
    """Redis replies are bytes unless the client decodes; accept both."""
    return value.decode() if isinstance(value, bytes) else str(value)


class CreateClaim:
    """The right to create one record; see :meth:`IdCache.creating`."""

    def __init__(self, conn: redis.Redis, pending_key: str) -> None:
        self.conn = conn
        self.pending_key = pending_key
        self.must_look_up = False  # someone else held it, or a create may be unrecorded

    def sending(self) -> None:
        self.conn.set(self.pending_key, 1, ex=PENDING_TTL_S)

    def recorded(self) -> None:
        self.conn.delete(self.pending_key)


class IdCache:
    def __init__(self, conn: redis.Redis, prefix: str, kind: str, ttl_s: int) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown cache kind {kind!r}")
        self.conn = conn
        self.kind = kind
        self.key = f"{prefix}:luca:{kind}"
        self.digest_key = f"{self.key}:digest"
        self.meta_key = f"{self.key}:meta"
        self.ttl_s = ttl_s
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

    def fresh(self, code: str) -> tuple[int | None, str | None]:
        """Read Redis now, bypassing the prefetched snapshot."""
        self._prefetched.pop(code, None)
        return self.lookup(code)

    @contextmanager
    def creating(self, code: str, owner: str = "", wait_s: float = 150.0) -> Iterator[CreateClaim]:
        """Hold the right to create ``code`` across every run, thread and host.

        Luca has no uniqueness guard for cari and invoices, and different sync types may need the
        same record at once (a CUSTOMER run and an INVOICE run's dependencies): both would see it
        missing and both create it. The claim expires if its holder dies; a pending marker, set
        just before the create is sent and cleared once the id is cached, tells the next holder
        that a create may have been committed without being recorded.

        ``owner`` is the run id: RQ retries a killed job under the same id, and that retry takes
        over the claims its dead attempt left (looking the records up first) instead of waiting.
        """
        key = f"{self.key}:creating:{code}"
        token = f"{owner}:{uuid.uuid4().hex}"
        contended = False
        deadline = time.monotonic() + wait_s
        while not self.conn.set(key, token, nx=True, px=int(CLAIM_TTL_S * 1000)):
            contended = True
            held = self.conn.get(key)
            if owner and held is not None and as_str(held).startswith(f"{owner}:"):
                self.conn.set(key, token, px=int(CLAIM_TTL_S * 1000))  # our own dead attempt's claim
                break
            if time.monotonic() > deadline:
                raise TransientError(f"another run has been creating {self.kind} {code} for {wait_s:.0f} s")
            time.sleep(0.05)
        claim = CreateClaim(self.conn, f"{self.key}:pending:{code}")
        claim.must_look_up = contended or bool(self.conn.exists(claim.pending_key))
        try:
            yield claim
        finally:
            self.conn.eval(_RELEASE, 1, key, token)

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

    def warm(self, luca_ids: Mapping[str, int]) -> dict[str, int]:
        """Replace the id map with Luca's list. Digests survive only where the id is unchanged
        (a card deleted and re-created by a person gets a new id and must be rewritten)."""
        held = self.count()
        if not luca_ids and held > 0:
            raise RunAborted(
                f"Luca listed no {self.kind} records while the cache holds {held}: refusing to continue "
                "(an empty list from a broken session would make us re-create everything)"
            )
        old = {as_str(k): int(v) for k, v in self.conn.hgetall(self.key).items()}
        stale = [code for code, old_id in old.items() if luca_ids.get(code) != old_id]
        pipe = self.conn.pipeline(transaction=True)
        pipe.delete(self.key)
        items = list(luca_ids.items())
        for start in range(0, len(items), 1000):
            pipe.hset(self.key, mapping=dict(items[start : start + 1000]))
        for start in range(0, len(stale), 1000):
            pipe.hdel(self.digest_key, *stale[start : start + 1000])
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
