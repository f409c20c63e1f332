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
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import redis

from syncsvc.errors import RunAborted

KINDS = ("stockcard", "customer", "invoice")


def as_str(value: bytes | str) -> str:
    """Redis replies are bytes unless the client decodes; accept both."""
    return value.decode() if isinstance(value, bytes) else str(value)


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
