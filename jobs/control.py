"""The run-control object: the one thing a run's parts check with and report to.

* ``alive()`` - before every Luca write: raises RunAborted unless this run still holds its lock
  (one Redis GET), so a run that lost its lock stops within one request per thread.
* ``tick()`` / ``set_phase()`` - progress, published from the coordinating thread only (RQ's
  ``save_meta`` overwrites the whole meta dict, and ``get_current_job()`` is None in pool threads).
* the lock is extended by a timer thread every LOCK_EXTEND_EVERY_S, not only when progress ticks:
  a long Luca list, a Retry-After wait or a settle wait would otherwise let it expire.

It is passed to the constructors that need it (``KatanaClient(heartbeat=control.tick)``,
``Upserts(guard=control.alive)``, ``Engine(settings, control, recorder)``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import redis

from syncsvc.defaults import LOCK_EXTEND_EVERY_S, PROGRESS_EVERY_S
from syncsvc.domain.errors import RunAborted
from syncsvc.domain.model import OUTCOMES, PHASES, utcnow
from syncsvc.store.locks import RunLock

log = logging.getLogger(__name__)


class Counters:
    """Thread-safe outcome counts (pool threads report, the main thread reads)."""

    def __init__(self, total: int) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        self.total = total
        self.processed = 0

    def add(self, outcome: str) -> None:
        with self._lock:
            self.values[outcome] += 1
            self.processed += 1

    def undo(self, outcome: str) -> None:
        with self._lock:
            self.values[outcome] -= 1
            self.processed -= 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"total": self.total, "processed": self.processed, **self.values}


class RunControl:
    """Alive check, progress and lock extension of one run. Use as a context manager: entering
    starts the lock timer, leaving stops it. Without a lock (tests, dependency runs' own
    engines share the run's control) only progress is kept."""

    def __init__(
        self,
        lock: RunLock | None = None,
        publish: Callable[[dict[str, Any]], None] | None = None,
        every_s: float = PROGRESS_EVERY_S,
        extend_every_s: float = LOCK_EXTEND_EVERY_S,
    ) -> None:
        self.lock = lock
        self.publish = publish
        self.every_s = every_s
        self.extend_every_s = extend_every_s
        self.phase = "queued"
        self.extra: dict[str, Any] = {}
        self.counters = Counters(0)
        self._last = 0.0
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        # What the timer saw go wrong, raised in the coordinating thread by the next tick.
        self._failure: BaseException | None = None
        self._lost_reported = False

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start extending the lock on the timer (no-op without a lock)."""
        if self.lock is not None and self._timer is None:
            self._timer = threading.Thread(target=self._keep_lock, name="run-lock", daemon=True)
            self._timer.start()

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=5)

    def __enter__(self) -> RunControl:
        self.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def _keep_lock(self) -> None:
        assert self.lock is not None
        while not self._stop.wait(self.extend_every_s):
            try:
                self.lock.heartbeat()
                if not isinstance(self._failure, RunAborted):
                    self._failure = None
            except RunAborted as exc:
                self._failure = exc
                return  # the lock is gone or taken: nothing left to extend
            except redis.RedisError as exc:
                # Redis away: the run notices on its next tick (and fails; RQ retries the job).
                self._failure = exc

    # -- checks ---------------------------------------------------------------------------------

    def alive(self) -> None:
        """Raise :class:`RunAborted` unless the run still holds its lock (before every Luca write)."""
        if self.lock is not None:
            self.lock.verify()

    # -- progress -------------------------------------------------------------------------------

    def track(self, total: int) -> Counters:
        """Fresh outcome counters for an engine run of ``total`` items; progress reports them."""
        self.counters = Counters(total)
        return self.counters

    def set_phase(self, phase: str, **extra: Any) -> None:
        if phase not in PHASES:  # the API documents the list; keep them in step
            raise ValueError(f"unknown phase {phase!r}; add it to syncsvc.domain.model.PHASES")
        self.phase = phase
        self.extra.update(extra)
        self.tick(force=True)

    def tick(self, force: bool = False) -> None:
        """Publish progress at most every ``every_s`` seconds, and raise what the lock timer saw
        (a lost lock once, a Redis error while it lasts), except on the failure path itself."""
        failure = self._failure
        if failure is not None and self.phase != "failed":  # the failure path only reports
            if not isinstance(failure, RunAborted):
                self._failure = None  # raised once; the timer reports it again if it lasts
                raise failure
            if not self._lost_reported:
                self._lost_reported = True
                raise failure
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        if self.publish:
            self.publish({"phase": self.phase, **self.counters.snapshot(), **self.extra, "updatedAt": utcnow()})
