"""Fault injection settings for the ``/v1`` API (``POST /_admin/faults``)."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from sandbox.katana.ratelimit import parse_rate


@dataclass(frozen=True)
class Faults:
    rate_limit: str = "60/60"
    random_429: float = 0.0
    random_500: float = 0.0
    latency_ms: int = 0
    jitter_ms: int = 0
    slow_page_probability: float = 0.0
    slow_page_ms: int = 3000
    mutate_during_paging: bool = False
    numbers_as_strings: bool = False
    # Webhook deliveries (see webhooks.py): lose, double or hold back deliveries; scale retry waits.
    webhook_drop: float = 0.0
    webhook_duplicate: float = 0.0
    webhook_delay_ms: int = 0
    webhook_retry_scale: float = 1.0

    def merged(self, changes: dict[str, Any]) -> Faults:
        """A copy with ``changes`` applied; unknown keys or bad values raise ValueError."""
        known = {f.name: f.type for f in fields(self)}
        unknown = set(changes) - set(known)
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            current = getattr(self, key)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be a boolean")
                clean[key] = value
            elif isinstance(current, str):
                parse_rate(str(value))
                clean[key] = str(value)
            elif isinstance(current, float):
                if not isinstance(value, int | float) or not 0 <= value <= 1:
                    raise ValueError(f"{key} must be a probability between 0 and 1")
                clean[key] = float(value)
            else:
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{key} must be a non-negative integer (milliseconds)")
                clean[key] = value
        return replace(self, **clean)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultBox:
    """The current fault settings, swapped atomically."""

    def __init__(self, initial: Faults) -> None:
        self._lock = threading.Lock()
        self.initial = initial
        self.current = initial

    def update(self, changes: dict[str, Any]) -> Faults:
        with self._lock:
            self.current = self.current.merged(changes)
            return self.current

    def reset(self) -> Faults:
        with self._lock:
            self.current = self.initial
            return self.current
