"""The ideal time of a run, from quantities measured in the same run.

A sync is bound by the remote APIs (reference notes §F.3): ``T ≈ Katana pages + sequential Luca
calls + parallel Luca calls · L / C``. Rather than assume L, each Luca call's own service time is
read from the simulator's request log (``ms``: latency plus the simulator's work), and each
Katana page's from timing the same pages with a separate API key before the run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from bench.infra import OBSERVER_KEY
from sandbox.testing import Sandbox

WRITE_ACTIONS = ("EkleStkWsSkart", "GuncelleStkWsSkart", "EkleFinMusteriWS", "EkleFtrWsFaturaBaslik")


@dataclass(frozen=True)
class LucaTimes:
    sequential_s: float  # login and warm-up reads: everything before the run's first write
    parallel_s: float  # the writes and whatever came after them, summed
    calls: int
    writes: int

    def ideal(self, pool: int) -> float:
        return self.sequential_s + self.parallel_s / pool


def luca_log(sb: Sandbox) -> list[dict[str, Any]]:
    return list(sb.admin("luca", "GET", "requests"))


def luca_times(entries: Sequence[Mapping[str, Any]], start: float, end: float = float("inf")) -> LucaTimes:
    """Split the calls that arrived in [start, end] at the first write."""
    calls = sorted((e for e in entries if start <= float(e["ts"]) <= end), key=lambda e: float(e["ts"]))
    first_write = next((i for i, e in enumerate(calls) if e["action"] in WRITE_ACTIONS), len(calls))
    ms = [float(e.get("ms") or 0.0) for e in calls]
    return LucaTimes(
        sequential_s=sum(ms[:first_write]) / 1000,
        parallel_s=sum(ms[first_write:]) / 1000,
        calls=len(calls),
        writes=sum(1 for e in calls if e["action"] in WRITE_ACTIONS),
    )


def katana_page_s(sb: Sandbox, path: str, params: Mapping[str, Any] | None = None, max_pages: int = 100) -> float:
    """Mean time our loopback client needs for one 250-row page of ``path`` (simulator work, no
    added latency): call before arming Katana latency, then add the latency per request."""
    times = []
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {OBSERVER_KEY}"
        for page in range(1, max_pages + 1):
            started = time.perf_counter()
            resp = http.get(
                f"{sb.katana_url}/v1/{path}", params={**dict(params or {}), "limit": 250, "page": page}, timeout=60
            )
            resp.raise_for_status()
            rows = resp.json()["data"]
            times.append(time.perf_counter() - started)
            if len(rows) < 250:
                break
    return sum(times) / len(times)


def set_katana_latency(sb: Sandbox, ms: float) -> None:
    sb.admin("katana", "POST", "faults", {"latency_ms": ms})
