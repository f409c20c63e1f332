"""RQ's default (pickle) serializer, read back with a loader that builds plain values only.

Why pickle and not JSON (docs/security.md): every RQ tool our users run — a plain
``rq worker sync``, rq-dashboard's requeue, ``rq requeue``, ``rq cron`` — reads and writes jobs
with RQ's default serializer, and rq 2.12's CLI takes no serializer from a ``-c`` settings module.
A JSON queue broke each of them and bought no safety: whoever can write to Redis can name any
importable function in a JSON job just as well.

What this module adds where our code runs (the web app and workers started with
``-c syncsvc.ops.rq_settings``): the *writing* side is byte-for-byte RQ's default, so every other
tool reads our jobs; the *reading* side refuses every pickle opcode that would look up a global
(class or function). Job arguments, meta and results are plain dicts, lists, strings and numbers,
so they load unchanged, while a planted payload that would call ``os.system`` at load time stops
with :class:`pickle.UnpicklingError` before anything runs (RQ reports it as
``DeserializationError``). This is the "restricting globals" recipe of the ``pickle`` docs.
"""

from __future__ import annotations

import datetime
import io
import pickle
from functools import partial
from typing import Any, ClassVar

from rq import serializers as rq_serializers

# Value types that are safe to construct from their pickled arguments (no side effects).
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("datetime", "datetime"): datetime.datetime,
    ("datetime", "date"): datetime.date,
    ("datetime", "timedelta"): datetime.timedelta,
    ("datetime", "timezone"): datetime.timezone,
}


class PlainValueUnpickler(pickle.Unpickler):
    """An unpickler that builds containers, strings, numbers and dates, and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED_GLOBALS.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}: job data holds plain values only")
        return found


def loads(data: bytes) -> Any:
    return PlainValueUnpickler(io.BytesIO(data)).load()


class PlainPickleSerializer:
    """RQ's :class:`~rq.serializers.DefaultSerializer` with :func:`loads` as its reader."""

    dumps: ClassVar[Any] = partial(pickle.dumps, protocol=pickle.HIGHEST_PROTOCOL)
    loads: ClassVar[Any] = staticmethod(loads)


def install() -> None:
    """Make RQ's default serializer load with :func:`loads` in this process.

    rq 2.12's ``rq worker`` builds its queues and jobs with the default serializer and offers no
    setting to change it from the ``-c`` module, so the settings module calls this; rq-dashboard
    and ``Job.fetch`` calls without a serializer are covered by the same switch. Idempotent.
    """
    rq_serializers.DefaultSerializer.loads = staticmethod(loads)
