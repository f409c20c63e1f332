"""Per sync type, the items that failed and must be tried again by every later run.

Incremental runs read only what changed in Katana since the cursor, and the cursor moves past a
failed item (its failure is recorded; holding the cursor back for it would make every run re-read
everything since). So a failed item is remembered here and every later run of its type fetches
it again by id, until it succeeds, turns out deleted/archived in Katana, or an operator resolves
it (the console's "resolve" action, :meth:`RetrySet.resolve`).

``{prefix}:retry:<TYPE>`` is a hash: item key (the ``item_key`` of the history's failed row,
e.g. a Luca code or ``order:123``) -> JSON ``{ref, runId, errorClass, message, firstFailedAt,
lastFailedAt, failures}``, where ``ref`` is the Katana record to fetch (``variant:5``,
``customer:7``, ``order:9``). Resolutions are kept (``...:resolved``, same key -> JSON with
``reason`` and ``resolvedAt``) so the console can say who let an item go and why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from syncsvc.domain.model import utcnow
from syncsvc.keys import Keys, as_str

RESOLVED_KEEP_S = 90 * 24 * 3600
"""Resolutions are kept 90 days after the last one."""


def _now() -> str:
    return utcnow()


@dataclass(frozen=True)
class Failure:
    key: str
    ref: str
    run_id: str
    error_class: str | None
    message: str | None


class RetrySet:
    def __init__(self, conn: redis.Redis, prefix: str, sync_type: str) -> None:
        self.conn = conn
        self.sync_type = sync_type
        self.key = Keys(prefix).retry_set(sync_type)
        self.resolved_key = Keys(prefix).retry_resolved(sync_type)

    def entries(self) -> dict[str, dict[str, Any]]:
        """Every item waiting for a retry: key -> entry."""
        out: dict[str, dict[str, Any]] = {}
        for key, raw in self.conn.hgetall(self.key).items():
            try:
                entry = json.loads(as_str(raw))
            except ValueError:
                continue
            if isinstance(entry, dict):
                out[as_str(key)] = entry
        return out

    def refs(self) -> set[str]:
        """The Katana records a run must fetch again (``variant:5``...)."""
        return {str(e["ref"]) for e in self.entries().values() if e.get("ref")}

    def size(self) -> int:
        return int(self.conn.hlen(self.key))

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.conn.hget(self.key, key)
        if raw is None:
            return None
        entry = json.loads(as_str(raw))
        return entry if isinstance(entry, dict) else None

    def update(self, failed: Iterable[Failure], succeeded_refs: Iterable[str]) -> None:
        """After a run: add or refresh its failures, drop every entry whose Katana record ended
        without failing this time (written, unchanged or gone). One transaction."""
        current = self.entries()
        done = set(succeeded_refs)
        failed = list(failed)
        failed_keys = {f.key for f in failed}
        now = _now()
        pipe = self.conn.pipeline(transaction=True)
        stale = [k for k, e in current.items() if e.get("ref") in done and k not in failed_keys]
        if stale:
            pipe.hdel(self.key, *stale)
        for f in failed:
            old = current.get(f.key, {})
            entry = {
                "ref": f.ref,
                "runId": f.run_id,
                "errorClass": f.error_class,
                "message": f.message,
                "firstFailedAt": old.get("firstFailedAt", now),
                "lastFailedAt": now,
                "failures": int(old.get("failures", 0)) + 1,
            }
            pipe.hset(self.key, f.key, json.dumps(entry, sort_keys=True))
        pipe.execute()

    def resolve(self, key: str, reason: str) -> bool:
        """An operator lets an item go: it leaves the retry set (later runs stop fetching it) and
        the reason is kept. Returns False when the key is not in the set."""
        reason = reason.strip()
        if not reason:
            raise ValueError("a reason is required to resolve a failed item")
        entry = self.get(key)
        if entry is None:
            return False
        record = {**entry, "reason": reason[:500], "resolvedAt": _now()}
        pipe = self.conn.pipeline(transaction=True)
        pipe.hdel(self.key, key)
        pipe.hset(self.resolved_key, key, json.dumps(record, sort_keys=True))
        pipe.expire(self.resolved_key, RESOLVED_KEEP_S)
        pipe.execute()
        return True

    def resolved(self) -> dict[str, dict[str, Any]]:
        return {as_str(k): json.loads(as_str(v)) for k, v in self.conn.hgetall(self.resolved_key).items()}

    def add(self, entries: Mapping[str, Failure]) -> None:
        """Record failures without clearing anything (used by targeted runs)."""
        self.update(entries.values(), ())
