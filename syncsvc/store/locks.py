"""One run per sync type at a time: a Redis lock taken by the job itself.

The lock is an efficiency and sanity guard (two runs would fight over the same records), not the
correctness mechanism: idempotent upserts are. It lives 60 s unless the running job's heartbeat
extends it, so a SIGKILLed worker releases it within a minute. Its absence is how the service
tells that the execution holding a claim is dead (:mod:`jobs.recovery`), well before RQ's own
abandoned-job maintenance (10 minutes).

The lock value is ``<run id>/<execution token>``: each execution of a run (a retry, a resumed
run) holds its own lock, so a stalled execution whose lock expired and was taken by the resumed
one sees a different holder and stops, even though both carry the same run id.

The heartbeat also checks that the lock is still ours. When it is gone (Redis flushed or restarted
without persistence) or held by another run, this run has been forgotten by everything that could
stop a second one, so it aborts instead of writing in parallel with the run that took over: two
runs posting the same invoices is exactly the duplicate Luca cannot catch.
"""

from __future__ import annotations

import time
import uuid

import redis

from syncsvc.defaults import RUN_LOCK_CHECK_EVERY_S, RUN_LOCK_TTL_S
from syncsvc.domain.errors import AlreadyRunning, RunAborted
from syncsvc.keys import Keys, as_str

LOCK_TTL_S = RUN_LOCK_TTL_S
CHECK_EVERY_S = RUN_LOCK_CHECK_EVERY_S


DRAIN_LOCK_PREFIX = "drain-"
"""Run-lock values of webhook drains (``drain-<run id>/<token>``): other runs wait for a drain
(seconds) instead of failing (jobs/run.py)."""


def holder_run_id(value: bytes | str | None) -> str | None:
    """The run id in a lock value (``<run id>/<token>``, a drain's prefix removed)."""
    return None if value is None else as_str(value).partition("/")[0].removeprefix(DRAIN_LOCK_PREFIX)


class RunLock:
    def __init__(self, conn: redis.Redis, prefix: str, sync_type: str, run_id: str) -> None:
        self.conn = conn
        self.key = Keys(prefix).run_lock(sync_type)
        self.run_id = run_id
        self.value = f"{run_id}/{uuid.uuid4().hex[:12]}"
        self._last_check = 0.0
        self.lost = False

    def acquire(self, wait_s: float = 0.0) -> None:
        """Take the lock or raise AlreadyRunning. A holder means a live execution (its heartbeat
        keeps it), even one of this same run; a dead one's lock expires within LOCK_TTL_S."""
        deadline = time.monotonic() + wait_s
        while True:
            if self.conn.set(self.key, self.value, nx=True, ex=LOCK_TTL_S):
                return
            holder = self.conn.get(self.key)
            if time.monotonic() >= deadline:
                who = as_str(holder) if holder else "?"
                raise AlreadyRunning(f"another run ({who}) holds {self.key}")
            time.sleep(0.5)

    def verify(self) -> None:
        """Raise :class:`RunAborted` unless the lock is still ours: called before every Luca write,
        so a run that lost its lock stops within one request per thread, not one heartbeat."""
        if self.lost:
            raise RunAborted(f"lost the run lock {self.key}")
        holder = self.conn.get(self.key)
        if holder is None or as_str(holder) != self.value:
            self._lose(holder)

    def _lose(self, holder: bytes | str | None) -> None:
        self.lost = True
        who = f"run {as_str(holder)} holds it now" if holder else "it is gone (Redis flushed or restarted?)"
        raise RunAborted(f"lost the run lock {self.key}: {who}; stopping so two runs never write at once")

    def heartbeat(self) -> None:
        """Extend the lock; raise :class:`RunAborted` (once) when it is no longer ours."""
        now = time.monotonic()
        if self.lost or now - self._last_check < CHECK_EVERY_S:
            return
        self._last_check = now
        # Extend only while it is still ours (compare-and-expire).
        held = self.conn.eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) "
            "else return 0 end",
            1,
            self.key,
            self.value,
            LOCK_TTL_S,
        )
        if not held:
            self._lose(self.conn.get(self.key))

    def release(self) -> None:
        self.conn.eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
            1,
            self.key,
            self.value,
        )
