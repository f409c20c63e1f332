"""A log of every API request (admin calls excluded), so tests can assert what a client did."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

MAX_ENTRIES = 200_000


def mask_key(key: str | None) -> str | None:
    """Enough of a key to tell keys apart in a log, never the whole key."""
    if not key:
        return None
    if len(key) <= 8:
        return "***" + key[-2:]
    return f"{key[:4]}***{key[-4:]}"


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[dict[str, Any]] = []
        self.dropped = 0  # entries trimmed from the front; indexes stay absolute
        self.statuses: Counter[int] = Counter()

    def add(self, method: str, path: str, query: str, key: str | None, status: int, ts: str) -> None:
        with self._lock:
            index = self.dropped + len(self.entries)
            self.entries.append(
                {
                    "index": index,
                    "method": method,
                    "path": path,
                    "query": query,
                    "key": mask_key(key),
                    "status": status,
                    "ts": ts,
                }
            )
            self.statuses[status] += 1
            if len(self.entries) > MAX_ENTRIES:
                cut = len(self.entries) - MAX_ENTRIES
                del self.entries[:cut]
                self.dropped += cut

    def since(self, index: int) -> list[dict[str, Any]]:
        with self._lock:
            start = max(0, index - self.dropped)
            return list(self.entries[start:])

    def clear(self) -> None:
        """Forget entries; ``since`` indexes keep counting up so a reader's cursor stays valid."""
        with self._lock:
            self.dropped += len(self.entries)
            self.entries.clear()
            self.statuses.clear()

    def reset(self) -> None:
        with self._lock:
            self.entries.clear()
            self.dropped = 0
            self.statuses.clear()

    def counts(self) -> dict[str, Any]:
        with self._lock:
            return {
                "served": sum(self.statuses.values()),
                "rate_limited": self.statuses.get(429, 0),
                "by_status": {str(k): v for k, v in sorted(self.statuses.items())},
                "next_index": self.dropped + len(self.entries),
            }
