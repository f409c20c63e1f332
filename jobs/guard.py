"""Workers started with our settings module run our job functions and nothing else.

A job in Redis names its function by a dotted path, and RQ imports and calls whatever it names.
Where ``syncsvc.ops.rq_settings`` is loaded (``rq worker sync -c syncsvc.ops.rq_settings``,
``rq worker-pool -c ...``, ``python -m syncsvc worker``), :func:`install` makes every job check,
before it runs, that it names a public function of :mod:`jobs.tasks` (or the one the operator
named in ``SYNCSVC_JOB_FUNCTION``, the hook the tests use to run a stand-in job), is not a method
call on a pickled instance, and carries no callbacks. Anything else fails with :class:`ForbiddenJob`
through RQ's normal failure handling: visible in the failed registry, nothing executed.

rq 2.12's CLI reads only ``REDIS_URL``/``REDIS_*``/``SENTINEL``, ``QUEUES``, ``NAME`` and
``DICT_CONFIG`` from a ``-c`` module (no job or worker class, no serializer), so the check is
installed on :class:`rq.job.Job` itself when the module is imported; the forked work horses
inherit it. A plain ``rq worker sync`` without ``-c`` loads none of our code and has no such
check: Redis authentication is what protects it (docs/security.md).
"""

from __future__ import annotations

import importlib
import inspect
import os
from typing import Any

from rq.job import Job

ENTRY_MODULE = "jobs.tasks"
_INSTALLED = "_syncsvc_guard"


class ForbiddenJob(Exception):
    """The job names a function this worker does not run."""


def allowed_functions(env: dict[str, str] | None = None) -> frozenset[str]:
    """Dotted paths of the functions a guarded worker runs."""
    module = importlib.import_module(ENTRY_MODULE)
    names = {
        f"{ENTRY_MODULE}.{name}"
        for name, obj in vars(module).items()
        if not name.startswith("_") and inspect.isfunction(obj) and obj.__module__ == ENTRY_MODULE
    }
    stand_in = (env if env is not None else os.environ).get("SYNCSVC_JOB_FUNCTION", "").strip()
    if stand_in:
        names.add(stand_in)
    return frozenset(names)


def _foreign_callbacks(job: Job, allowed: frozenset[str]) -> list[str]:
    names = (job._success_callback_name, job._failure_callback_name, job._stopped_callback_name)
    return [name for name in names if name and name not in allowed]


def check(job: Job, allowed: frozenset[str]) -> None:
    """Raise :class:`ForbiddenJob` unless ``job`` calls one of ``allowed`` plainly."""
    problem = None
    if job.func_name not in allowed:
        problem = f"function {job.func_name!r} is not a {ENTRY_MODULE} entry point"
    elif job.instance is not None:
        problem = "a method call on a stored instance"
    elif foreign := _foreign_callbacks(job, allowed):
        problem = "callbacks " + ", ".join(map(repr, foreign))
    if problem is not None:
        raise ForbiddenJob(f"refused job {job.id}: {problem}; this worker runs only {ENTRY_MODULE} jobs")


def install() -> None:
    """Check every job before :meth:`rq.job.Job.perform` runs it, and every callback before it
    is called (RQ calls the failure callback after a refused perform, and from the maintenance
    pass for abandoned jobs). Idempotent."""
    if getattr(Job, _INSTALLED, False):
        return
    allowed = allowed_functions()
    perform = Job.perform

    def guarded_perform(self: Job) -> Any:
        check(self, allowed)
        return perform(self)

    def guard_callback(name: str) -> None:
        original = getattr(Job, name)

        def guarded(self: Job, *args: Any) -> Any:
            if foreign := _foreign_callbacks(self, allowed):
                raise ForbiddenJob(f"refused job {self.id}: callbacks {', '.join(map(repr, foreign))}")
            return original(self, *args)

        setattr(Job, name, guarded)

    Job.perform = guarded_perform  # type: ignore[method-assign]
    for name in ("execute_success_callback", "execute_failure_callback", "execute_stopped_callback"):
        guard_callback(name)
    setattr(Job, _INSTALLED, True)
