"""What the request handlers share: settings, the Redis client and the history store."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import redis

from syncsvc.settings import Settings
from syncsvc.store.history import History, open_history


@dataclass
class Service:
    settings: Settings
    redis_url: str
    redis: redis.Redis
    job_function: str
    _history: History | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def history(self) -> History:
        # Opened on first use, i.e. in the serving process (after gunicorn's fork), never at import.
        with self._lock:
            if self._history is None:
                self._history = open_history(self.settings)
            return self._history

    def close(self) -> None:
        if self._history is not None:
            self._history.close()
        self.redis.close()
