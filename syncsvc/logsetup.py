"""Logging: one handler per process, JSON lines or text, run context on every record, no secrets.

Format: ``SYNC_LOG_FORMAT=json|text`` (default: text on a terminal, JSON otherwise). Records
carry ``run_id``, ``job_id``, ``sync_type`` and ``key`` where relevant, from ``extra=`` or from
:func:`bound` around a run. Every log record is masked when it is created.

Masking happens in the LogRecord factory rather than in a handler filter because RQ's CLI and
gunicorn attach their own handlers after we start; the factory sees every record of the process
whichever handler later prints it.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger import json as jsonlogger

from syncsvc.domain.errors import ConfigError
from syncsvc.domain.model import iso_utc

MASK = "***"
_installed: list[str] = []


def mask_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def install_mask(secrets: Iterable[str]) -> None:
    """Mask ``secrets`` (values shorter than 4 characters are ignored) in all later log records.

    Safe to call more than once: the secrets accumulate and the factory is wrapped only once.
    """
    new = {s for s in secrets if s and len(s) >= 4} - set(_installed)
    first = not _installed
    _installed.extend(new)
    # Longest first, so a secret containing another is masked whole.
    _installed.sort(key=len, reverse=True)
    if not first:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logging module's problem to report
            return record
        masked = mask_text(message, _installed)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if mask_text(text, _installed) != text:
                record.exc_text = mask_text(text, _installed)
                record.exc_info = None
        return record

    logging.setLogRecordFactory(factory)


# Fields a record may carry beyond the message, in the order the text format prints them.
CONTEXT_FIELDS = ("run_id", "job_id", "sync_type", "key")
FORMATS = ("json", "text")
_context: ContextVar[dict[str, Any]] = ContextVar("syncsvc_log_context")
# Standard LogRecord attributes: everything else on a record is an ``extra`` field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Attach ``fields`` (run_id, job_id, sync_type, ...) to every record logged inside the block,
    including records of library code that doesn't know them (a Luca re-login, a Katana 429).
    Threads started inside see them only when they run in a copy of this context
    (``contextvars.copy_context().run``), as the engine's pool does."""
    token = _context.set({**_context.get({}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def current_fields() -> dict[str, Any]:
    return dict(_context.get({}))


class ContextFilter(logging.Filter):
    """Copy the bound fields onto each record that lacks them (a filter, not the record factory:
    ``extra=`` may set the same names, and the factory runs before extras are applied)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get({}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(jsonlogger.JsonFormatter):
    """One JSON object per line: ts, level, logger, message, then every extra field."""

    def __init__(self) -> None:
        super().__init__(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
            json_default=str,
            json_ensure_ascii=False,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return iso_utc(datetime.fromtimestamp(record.created, UTC))

    def format(self, record: logging.LogRecord) -> str:
        # Extras are ours (never secrets by rule), but mask the finished line as well.
        return mask_text(super().format(record), _installed)


class TextFormatter(logging.Formatter):
    """The terminal format: time, level, logger, message, then ``name=value`` extras."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = extras(record)
        if fields:
            ordered = [k for k in CONTEXT_FIELDS if k in fields] + sorted(k for k in fields if k not in CONTEXT_FIELDS)
            head, sep, tail = line.partition("\n")  # keep a traceback below the fields
            line = head + " " + " ".join(f"{k}={fields[k]}" for k in ordered) + sep + tail
        return mask_text(line, _installed)


def log_format(env: dict[str, str] | None = None, stream: Any = None) -> str:
    """``SYNC_LOG_FORMAT`` (json|text); unset: text on a terminal, JSON otherwise (files, pipes,
    containers, systemd's journal), so machines read what machines collect."""
    raw = (env if env is not None else os.environ).get("SYNC_LOG_FORMAT", "").strip().lower()
    if raw:
        if raw not in FORMATS:
            raise ConfigError(f"SYNC_LOG_FORMAT must be json or text, got {raw!r}")
        return raw
    stream = stream if stream is not None else sys.stderr
    return "text" if getattr(stream, "isatty", lambda: False)() else "json"


def make_handler(fmt: str | None = None, stream: Any = None) -> logging.Handler:
    """The handler every syncsvc process logs through (also named by gunicorn's logconfig_dict)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if (fmt or log_format()) == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.set_name("syncsvc")
    return handler


def configure(level: str = "INFO", fmt: str | None = None, stream: Any = None, force: bool = False) -> None:
    """Route the root logger (and so ours, rq's and the work horses') through one handler.

    Called by the CLI, the web app, the rq settings module (before rq would attach its own
    handlers: rq adds none when the root already has one) and the job entry point. Idempotent;
    ``force`` replaces a handler installed earlier (tests, a changed format)."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if h.get_name() == "syncsvc"]
    if ours and not force:
        return
    for handler in ours if force else []:
        root.removeHandler(handler)
    if root.handlers and not force and not ours:
        # Someone (pytest's capture, an embedding program) configured logging: keep theirs, add
        # the context fields to it.
        for handler in root.handlers:
            if not any(isinstance(f, ContextFilter) for f in handler.filters):
                handler.addFilter(ContextFilter())
        root.setLevel(level)
        return
    root.addHandler(make_handler(fmt, stream))
    root.setLevel(level)


def dict_config(level: str = "INFO") -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: its error and access logs through our handler too."""
    handler = {"()": "syncsvc.logsetup.make_handler"}
    route = {"level": level, "handlers": ["syncsvc"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"syncsvc": handler},
        "root": {"level": level, "handlers": ["syncsvc"]},
        "loggers": {"gunicorn.error": route, "gunicorn.access": route},
    }
