"""The simulator clock: real UTC time plus an offset that admin can advance.

Timestamps it hands out strictly increase (by at least 1 ms), so two mutations in a row never
share an ``updated_at`` and an ``updated_at_min`` watermark behaves predictably in tests.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sandbox.katana.encoding import iso


class SimClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._last = datetime(1970, 1, 1, tzinfo=UTC)
        self.restart(start)

    def restart(self, start: datetime | None) -> None:
        """Back to real time, or to ``start`` (then ticking in real time); used by admin reset."""
        with self._lock:
            self._offset = timedelta(0) if start is None else start - datetime.now(UTC)
            self._last = datetime(1970, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        with self._lock:
            current = datetime.now(UTC) + self._offset
            # Milliseconds are all the wire format keeps, so step in whole milliseconds.
            current = current.replace(microsecond=current.microsecond // 1000 * 1000)
            if current <= self._last:
                current = self._last + timedelta(milliseconds=1)
            self._last = current
            return current

    def now_iso(self) -> str:
        return iso(self.now())

    def peek(self) -> datetime:
        """The current time without reserving a timestamp."""
        with self._lock:
            return max(datetime.now(UTC) + self._offset, self._last)

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.peek()
