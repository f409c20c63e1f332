"""``syncsvc scheduler``: rq's cron scheduler with a leader lock, so any number may run.

rq 2.12's ``CronScheduler`` (``rq cron``) computes the ticks with croniter and enqueues them
with RQ's default serializer, but has no leader election: two ``rq cron`` processes enqueue every
tick twice. Here each process registers the same jobs (one :func:`jobs.tasks.scheduled_sync`
per type with a ``SYNC_SCHEDULE_<TYPE>`` expression) and only the holder of
``{prefix}:cron:leader`` (30 s, renewed every loop) lets rq enqueue; the others wait and take over
within 30 s when the leader dies. Each tick job also runs at most once (``jobs/schedule.py``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime

import redis
from croniter import croniter
from rq.cron import CronScheduler

from jobs import tasks
from syncsvc.keys import Keys
from syncsvc.settings import Settings

log = logging.getLogger(__name__)

LEADER_TTL_S = 30
"""A leader that stops renewing for this long is replaced."""
LOOP_MAX_S = 5.0
"""The loop renews the lease at least this often (and re-checks stop)."""
TICK_JOB_TIMEOUT_S = 300
TICK_RESULT_TTL_S = 24 * 3600

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) and 1 or 0
"""


class LeaderCron:
    def __init__(self, conn: redis.Redis, settings: Settings, name: str | None = None) -> None:
        self.conn = conn
        self.settings = settings
        # rq keeps every cron scheduler at rq:cron_scheduler:<name>: the name carries the instance.
        self.name = name or f"{settings.instance}-cron-{uuid.uuid4().hex[:8]}"
        self.key = Keys(settings.key_prefix).cron_leader()
        self.cron = CronScheduler(conn, name=self.name)
        self.leading = False
        for sync_type, expression in settings.schedules.items():
            if expression:
                self.cron.register(
                    tasks.scheduled_sync, settings.queue_name, args=(sync_type,), cron=expression,
                    job_timeout=TICK_JOB_TIMEOUT_S, result_ttl=TICK_RESULT_TTL_S, name=f"syncsvc {sync_type}",
                )  # fmt: skip

    @property
    def schedules(self) -> dict[str, str]:
        return {t: e for t, e in self.settings.schedules.items() if e}

    def lead(self) -> bool:
        """Take or keep the leader lease; True while this process leads."""
        held = bool(self.conn.eval(_RENEW, 1, self.key, self.name, LEADER_TTL_S))
        if held and not self.leading:
            log.info("scheduler %s leads: %s", self.name, self.schedules)
            self._rebase()
            self.cron.register_birth()
        elif not held and self.leading:
            log.warning("scheduler %s lost the lead to %s", self.name, self.conn.get(self.key))
            self.cron.register_death()
        self.leading = held
        return held

    def _rebase(self) -> None:
        """A new leader fires only ticks from now on: the previous one enqueued the past ones."""
        now = datetime.now(UTC)
        for job in self.cron.get_jobs():
            if job.cron:
                job.next_enqueue_time = croniter(job.cron, now).get_next(datetime)

    def step(self) -> float:
        """One loop: enqueue the due ticks if leading; returns seconds to sleep."""
        if not self.lead():
            return LOOP_MAX_S
        if self.cron.enqueue_jobs():
            self.cron.save()
        self.cron.heartbeat()
        return min(self.cron.calculate_sleep_interval(), LOOP_MAX_S)

    def run(self, stop: threading.Event) -> None:
        log.info("scheduler %s started: %s", self.name, self.schedules or "no schedules (all SYNC_SCHEDULE_* empty)")
        try:
            while not stop.is_set():
                stop.wait(self.step())
        finally:
            self.release()

    def release(self) -> None:
        if self.leading:
            self.cron.register_death()
        self.conn.eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
            1, self.key, self.name,
        )  # fmt: skip
        self.leading = False
