"""Settings module for the RQ worker CLI::

    rq worker sync -c syncsvc.ops.rq_settings --with-scheduler --serializer json

What it does when ``rq`` imports it:

* validates our settings (a bad value stops the worker with one line);
* sets ``REDIS_URL`` by the same resolution as the web app (``REDIS_URL``, then 127.0.0.1:6379,
  then the embedded server another syncsvc process started);
* preloads ``jobs.tasks`` so each forked job does not pay the import again (~114 ms -> ~17 ms);
* routes logging (ours, rq's, the work horses') through one handler, JSON lines or text
  (``SYNC_LOG_FORMAT``): rq adds its own handlers only where no handler is configured yet;
* installs the secret-masking log filter;
* refuses to start a worker without ``--serializer json``: rq 2.12's CLI does not read a
  ``SERIALIZER`` from this module, and a pickle worker would fail every JSON-encoded job.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

from rq.serializers import JSONSerializer, resolve_serializer

from jobs.enqueue import QUEUE_NAME, WORKER_COMMAND
from syncsvc.domain.errors import ConfigError
from syncsvc.logsetup import configure, install_mask
from syncsvc.settings import from_env, secrets_of
from syncsvc.store.redis_conn import resolve_redis

JOB_MODULES = ("jobs.tasks",)


def serializer_from_argv(argv: list[str]) -> str | None:
    """The value of ``--serializer``/``-S`` on an ``rq worker`` command line, if given."""
    for index, arg in enumerate(argv):
        if arg in ("--serializer", "-S") and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--serializer="):
            return arg.split("=", 1)[1]
        if arg.startswith("-S") and len(arg) > 2 and not arg.startswith("--"):
            return arg[2:]
    return None


def check_serializer(argv: list[str]) -> None:
    """Exit with one line when an ``rq worker`` command line would decode jobs with pickle."""
    command = [a for a in argv[1:3] if not a.startswith("-")]
    if not command or command[0] not in ("worker", "worker-pool"):
        return
    chosen = serializer_from_argv(argv)
    try:
        ok = chosen is not None and resolve_serializer(chosen) is JSONSerializer
    except Exception:
        ok = False
    if not ok:
        raise SystemExit(
            f"syncsvc: sync jobs are JSON-encoded; start the worker with --serializer json: {WORKER_COMMAND}"
        )


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


try:
    _settings = from_env()
    check_serializer(sys.argv)
    configure()
    install_mask(secrets_of(_settings))
    REDIS_URL = resolve_redis(_settings, allow_start=False).url
except ConfigError as _exc:
    raise SystemExit(f"syncsvc worker: {_exc}") from None

QUEUES = [QUEUE_NAME]
PRELOADED = preload()
