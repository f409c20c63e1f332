"""Fault settings and background chaos shared by the scenarios."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sandbox.testing import Sandbox

# Every Luca fault kind armed. slow_seconds is above the workers' LUCA_TIMEOUT (1 s), so a slow
# call is a client timeout whose write the server may still commit afterwards.
LUCA_STORM: dict[str, Any] = {
    "latency_ms": 3, "jitter_ms": 3, "slow_seconds": 2.5, "single_session_per_user": True, "seed": 5,
    "faults": {
        "reset": {"probability": 0.1}, "bad_gateway": {"probability": 0.1}, "html_login": {"probability": 0.1},
        "session_expiry": {"probability": 0.1}, "branch_loss": {"probability": 0.1},
        "empty_error": {"probability": 0.1}, "slow": {"probability": 0.1},
        "commit_then_fail": {"probability": 0.2, "mode": "random"},
    },
}  # fmt: skip
KATANA_STORM = {"random_429": 0.1, "random_500": 0.1, "slow_page_probability": 0.2, "slow_page_ms": 1500}
# Enough retrying that a 10 % fault rate per call converges (each item: 4 tries x 7 rounds).
# LUCA_WRITE_SETTLE exceeds slow_seconds: by then a timed-out create has either landed or not.
STORM_ENV = {"LUCA_TIMEOUT": 1, "LUCA_WRITE_SETTLE": 3, "SYNC_MAX_ATTEMPTS": 4, "SYNC_RETRY_ROUNDS": 6}


def arm(sb: Sandbox) -> None:
    sb.admin("luca", "POST", "faults", LUCA_STORM)
    sb.admin("katana", "POST", "faults", KATANA_STORM)


def disarm(sb: Sandbox) -> dict[str, int]:
    """Stop injecting; return what was injected, by kind."""
    luca = sb.admin("luca", "GET", "faults")
    sb.admin("luca", "POST", "faults", {"faults": {}, "slow_seconds": 2.5})
    sb.admin("katana", "POST", "faults", {k: 0 for k in KATANA_STORM})  # Katana merges fault changes
    injected = Counter({f"luca:{k}": int(v) for k, v in (luca.get("injected") or {}).items()})
    statuses = Counter(r["status"] for r in sb.admin("katana", "GET", "requests")["requests"])
    injected["katana:429"] = statuses.get(429, 0)
    injected["katana:500"] = statuses.get(500, 0)
    return dict(injected)


@contextmanager
def session_killer(sb: Sandbox, every_s: float = 2.0) -> Iterator[list[int]]:
    """Kill every Luca session every ``every_s`` seconds while the block runs; yields the count."""
    stop = threading.Event()
    kills = [0]

    def loop() -> None:
        while not stop.wait(every_s):
            sb.admin("luca", "POST", "sessions/kill")
            kills[0] += 1

    thread = threading.Thread(target=loop, daemon=True, name="session-killer")
    thread.start()
    try:
        yield kills
    finally:
        stop.set()
        thread.join(timeout=30)
