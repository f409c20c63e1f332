"""Every Redis key the service writes, declared once (as rq's registries declare theirs).

All keys start with the deployment's name (``SYNC_INSTANCE``, default ``sync``), which also names
its RQ queue, so several deployments can share one Redis; RQ's own keys (``rq:*``) are RQ's.
Modules build keys only through :class:`Keys`; the README's "Redis key layout" section lists them
for operators.

This is a top-level module, not ``store/``: the clients hold Redis state too (the shared Luca
session, the Katana request budget), and clients and store don't import each other.
"""

from __future__ import annotations


def as_str(value: bytes | str) -> str:
    """Redis replies are bytes unless the client decodes; accept both."""
    return value.decode() if isinstance(value, bytes) else str(value)


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # -- Luca id caches (store/cache.py): natural key -> Luca id, kind = stockcard|customer|invoice --

    def cache(self, kind: str) -> str:
        """Hash code -> Luca id (``HGET syncsvc:luca:stockcard ABC-10``)."""
        return self._key("luca", kind)

    def cache_digests(self, kind: str) -> str:
        """Hash code -> digest of the payload we last sent (change detection)."""
        return self._key("luca", kind, "digest")

    def cache_meta(self, kind: str) -> str:
        """Hash with ``warmed_at``, ``count``, ``warmed_epoch`` of the last warm-up."""
        return self._key("luca", kind, "meta")

    def creating(self, kind: str, code: str) -> str:
        """String: the run creating ``code`` right now (creation claim, expires)."""
        return self._key("luca", kind, "creating", code)

    def create_pending(self, kind: str, code: str) -> str:
        """String: a create of ``code`` may have been committed without being recorded."""
        return self._key("luca", kind, "pending", code)

    def code_conflicts(self) -> str:
        """Set of Luca stock-card codes several Katana SKUs canonicalise to."""
        return self._key("luca", "stockcard", "conflicts")

    # -- Luca session (clients/luca_session.py) ----------------------------------------------------

    def luca_session(self) -> str:
        return self._key("luca", "session")

    def luca_login_lock(self) -> str:
        return self._key("luca", "login-lock")

    def luca_logins(self) -> str:
        return self._key("luca", "logins")

    # -- Katana request budget (clients/budget.py); key_id is a hash of the API key, never the key --

    def katana_budget(self, key_id: str) -> str:
        return self._key("katana", "budget", key_id)

    def katana_cooldown(self, key_id: str) -> str:
        return self._key("katana", "cooldown", key_id)

    # -- runs and jobs -----------------------------------------------------------------------------

    def run_lock(self, sync_type: str) -> str:
        """String: ``<run id>/<execution token>`` holding this type's run lock (store/locks.py)."""
        return self._key("lock", "run", sync_type)

    def recovering(self, job_id: str, started_at: str) -> str:
        """String: one recoverer took this dead execution (jobs/recovery.py), expires."""
        return self._key("recovering", job_id, started_at)

    def start_claim(self, sync_type: str) -> str:
        """String: the job id of the queued-or-running start of this type (jobs/enqueue.py)."""
        return self._key("claim", sync_type)

    def job_states(self, job_id: str) -> str:
        """List of JSON entries (``stateName``, ``createdAt``, ``attempt``, ``reason``): the job's
        QUEUED, then each execution's STARTED and outcome (jobs/enqueue.py ``log_state``)."""
        return self._key("jobstates", job_id)

    def ready_check(self, name: str) -> str:
        """String: the cached answer of one readiness check (web/health.py), short-lived."""
        return self._key("ready", name)

    # -- metrics (syncsvc/metrics.py), aggregated across processes for /metrics ------------------------

    def metrics_counters(self) -> str:
        return self._key("metrics", "counters")

    def metrics_histograms(self) -> str:
        return self._key("metrics", "hist")

    def metrics_last_success(self) -> str:
        return self._key("metrics", "last_success")

    # -- auto-pause (store/pause.py) -----------------------------------------------------------------

    def pause_failures(self) -> str:
        """Hash sync type -> consecutive systemic run failures (reset by a finished run)."""
        return self._key("pause", "failures")

    def paused(self) -> str:
        """Hash sync type -> JSON {reason, since, failures} while its scheduled runs are paused."""
        return self._key("pause", "paused")

    def recent_reconciliations(self) -> str:
        """List of the latest reconciliation jobs (jobs/reconcile.py)."""
        return self._key("reconcile", "recent")

    # -- incremental runs (store/cursors.py, retryset.py, pending.py) -------------------------------

    def cursor(self, sync_type: str) -> str:
        return self._key("cursor", sync_type)

    def retry_set(self, sync_type: str) -> str:
        return self._key("retry", sync_type)

    def retry_resolved(self, sync_type: str) -> str:
        return self._key("retry", sync_type, "resolved")

    def webhook_pending(self, sync_type: str) -> str:
        return self._key("pending", sync_type)

    def webhook_inflight(self, sync_type: str) -> str:
        return self._key("pending", sync_type, "inflight")

    def drain_queued(self, sync_type: str) -> str:
        """String: the id of this type's queued (not yet started) webhook drain job."""
        return self._key("drain", sync_type, "queued")

    def drain_paced(self, sync_type: str) -> str:
        """String with a TTL of ``SYNC_DRAIN_INTERVAL_S``: a drain of this type took its events
        less than that long ago, so the next one waits (jobs/run.py paces drains to Katana's budget)."""
        return self._key("drain", sync_type, "paced")

    def drain_running(self, sync_type: str) -> str:
        """String: the id of the drain job holding this type's run lock (jobs/recovery.py finds a
        dead drain through it: drains take no start claim)."""
        return self._key("drain", sync_type, "running")

    # -- schedules (jobs/schedule.py, ops/scheduler.py) ---------------------------------------------

    def cron_leader(self) -> str:
        """String: the scheduler process that leads (enqueues the cron ticks), 30 s lease."""
        return self._key("cron", "leader")

    def cron_tick(self, sync_type: str, tick: str) -> str:
        """String: this tick of this type's schedule already ran (kept 2 days)."""
        return self._key("cron", "tick", sync_type, tick)
