"""The simulator's root object: configuration, every piece of mutable state, and reset."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.katana.clock import SimClock
from sandbox.katana.data import GenOptions
from sandbox.katana.faults import FaultBox, Faults
from sandbox.katana.ratelimit import RateLimiter, parse_rate
from sandbox.katana.requestlog import RequestLog
from sandbox.katana.state import Store
from sandbox.katana.webhooks import WebhookHub


@dataclass(frozen=True)
class Config:
    api_keys: frozenset[str]
    gen: GenOptions
    faults: Faults
    reset_in_seconds: bool = False
    clock_start: datetime | None = None


class Simulator:
    """Everything one simulator instance owns; handlers reach it through closures."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.clock = SimClock(cfg.clock_start)
        self.store = Store(cfg.gen, self.clock)
        self.limiter = RateLimiter(*parse_rate(cfg.faults.rate_limit))
        self.faults = FaultBox(cfg.faults)
        self.log = RequestLog()
        # Fault dice; seeded so a single-threaded client sees a repeatable fault sequence.
        self.rng = random.Random(cfg.gen.seed)
        self.webhooks = WebhookHub(self.clock, lambda: self.faults.current, cfg.gen.seed)
        self.store.emit = self.webhooks.emit

    def reset(self, gen: GenOptions) -> None:
        self.clock.restart(self.cfg.clock_start)
        self.webhooks.reset()
        self.store.reset(gen)
        self.faults.reset()
        self.limiter.configure(*parse_rate(self.cfg.faults.rate_limit))
        self.limiter.clear()
        self.log.reset()
        self.rng.seed(gen.seed)

    def set_faults(self, changes: dict[str, Any]) -> Faults:
        faults = self.faults.update(changes)
        self.limiter.configure(*parse_rate(faults.rate_limit))
        return faults
