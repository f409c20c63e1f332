"""A bounded log of ``/Yetki`` calls for tests to inspect (who called what, on which node)."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

MAX_ENTRIES = 100_000


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=MAX_ENTRIES)

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(self, action: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            items = [e for e in self._entries if action is None or e["action"] == action]
        return items[-limit:] if limit else items

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
