"""Logging that cannot leak secrets: a filter masks every configured secret value in records."""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "***"


class SecretMaskFilter(logging.Filter):
    """Replace secret values in the formatted message (args included) with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = message
        for secret in self.secrets:
            masked = masked.replace(secret, MASK)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            for secret in self.secrets:
                record.exc_text = record.exc_text.replace(secret, MASK)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_mask(secrets: Iterable[str]) -> SecretMaskFilter:
    """Attach the filter to every handler of the root logger (filters on loggers skip propagation)."""
    mask = SecretMaskFilter(secrets)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        if not any(isinstance(f, SecretMaskFilter) for f in handler.filters):
            handler.addFilter(mask)
    return mask
