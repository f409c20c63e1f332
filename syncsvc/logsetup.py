"""Logging that cannot leak secrets: every log record is masked when it is created.

Masking happens in the LogRecord factory rather than in a handler filter because RQ's CLI and
gunicorn attach their own handlers after we start; the factory sees every record of the process
whichever handler later prints it.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from typing import Any

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


def configure(level: str = "INFO") -> None:
    """Plain one-line records on stderr for our own processes (CLI, gunicorn app)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
