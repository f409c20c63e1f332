"""Settings module for the RQ worker CLI::

    rq worker -c syncsvc.ops.rq_settings --with-scheduler

rq 2.12 reads ``REDIS_URL``, ``QUEUES``, ``NAME`` and ``DICT_CONFIG`` from this module (and no job
class, worker class or serializer). What importing it does:

* validates our settings (a bad value stops the worker with one line);
* names the queue: ``QUEUES`` is this deployment's (``SYNC_INSTANCE``, default ``sync``), and a
  worker told to listen on another queue (``rq worker other -c ...``) refuses to start: it would
  run another deployment's jobs with this one's settings;
* sets ``REDIS_URL`` by the same resolution as the web app (``REDIS_URL``, then 127.0.0.1:6379,
  then the embedded server another syncsvc process started), and refuses a Redis beyond loopback
  that answers without a password (docs/security.md);
* makes RQ's default (pickle) serializer load plain values only, and the worker run only
  ``jobs.tasks`` functions (:mod:`syncsvc.store.serializer`, :mod:`jobs.guard`);
* hands back runs whose worker died, from a watchdog thread (:mod:`jobs.recovery`), and makes
  the scheduler process exit with this worker (:mod:`syncsvc.parentdeath`);
* preloads ``jobs.tasks`` so each forked job does not pay the import again (~114 ms -> ~17 ms);
* routes logging (ours, rq's, the work horses') through one handler, JSON lines or text
  (``SYNC_LOG_FORMAT``): rq adds its own handlers only where no handler is configured yet;
* installs the secret-masking log filter.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import signal
from typing import Any

from rq.scheduler import RQScheduler
from rq.worker import BaseWorker

from jobs import guard
from jobs.recovery import start_watchdog
from syncsvc.domain.errors import ConfigError
from syncsvc.logsetup import configure, install_mask
from syncsvc.parentdeath import die_with_parent
from syncsvc.settings import from_env, secrets_of
from syncsvc.store import serializer
from syncsvc.store.redis_conn import require_authentication, resolve_redis

JOB_MODULES = ("jobs.tasks",)


def preload(modules: tuple[str, ...] = JOB_MODULES) -> list[str]:
    """Import the job modules that exist (the engine may not be installed in every checkout)."""
    loaded = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            importlib.import_module(name)
            loaded.append(name)
    extra = os.environ.get("SYNC_PRELOAD", "")
    for name in filter(None, (m.strip() for m in extra.split(","))):
        importlib.import_module(name)
        loaded.append(name)
    return loaded


def scheduler_dies_with_worker() -> None:
    """Make RQ's scheduler process get SIGTERM when its worker exits (it then releases
    ``rq:scheduler-lock:<queue>`` and stops) instead of living on as an orphan."""
    work = RQScheduler.work
    if getattr(work, "_syncsvc", False):
        return

    def work_and_die_with_worker(self: RQScheduler) -> Any:
        die_with_parent(signal.SIGTERM)
        return work(self)

    work_and_die_with_worker._syncsvc = True  # type: ignore[attr-defined]
    RQScheduler.work = work_and_die_with_worker  # type: ignore[method-assign]


def only_own_queue(queue_name: str) -> None:
    """Make a worker that listens on any queue but ``queue_name`` exit with one line before it
    takes a job."""
    work = BaseWorker.work
    if getattr(work, "_syncsvc", False):
        return

    def work_own_queue(self: BaseWorker, *args: Any, **kwargs: Any) -> Any:
        foreign = [name for name in self.queue_names() if name != queue_name]
        if foreign:
            raise SystemExit(
                f"syncsvc worker: this deployment's queue is {queue_name!r} (SYNC_INSTANCE), not "
                f"{', '.join(map(repr, foreign))}; run `rq worker -c syncsvc.ops.rq_settings` (the queue "
                "follows SYNC_INSTANCE) or set SYNC_INSTANCE to the deployment whose jobs these are"
            )
        return work(self, *args, **kwargs)

    work_own_queue._syncsvc = True  # type: ignore[attr-defined]
    BaseWorker.work = work_own_queue  # type: ignore[method-assign]


try:
    _settings = from_env()
    configure()
    install_mask(secrets_of(_settings))
    REDIS_URL = resolve_redis(_settings, allow_start=False).url
    require_authentication(REDIS_URL)
except ConfigError as _exc:
    raise SystemExit(f"syncsvc worker: {_exc}") from None

QUEUES = [_settings.queue_name]
# psycopg and its pool cost ~170 ms to import: paid once here, not by every forked job.
PRELOADED = preload(JOB_MODULES + (("syncsvc.store.history.postgres",) if _settings.history_url else ()))
serializer.install()
guard.install()
scheduler_dies_with_worker()
only_own_queue(_settings.queue_name)
WATCHDOG = start_watchdog(REDIS_URL, _settings)
