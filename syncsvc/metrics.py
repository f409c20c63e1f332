"""Service metrics, aggregated in Redis so every worker host and the web app see the same figures.

Workers on other hosts can't share a prometheus_client multiprocess directory, so counters and
histogram buckets live in two Redis hashes under the deployment's key prefix
(``{prefix}:metrics:counters`` / ``:hist``), and ``GET /metrics`` renders them (see
:func:`render`). Counting is cheap: a run binds a :class:`Sink` (:func:`collecting`) that buffers
increments in memory and flushes them with one pipeline every ``FLUSH_EVERY_S`` and at the end of
the run; code with no sink bound counts nothing (unit tests, the benchmarks' baselines).

Counting API for other modules::

    metrics.inc("luca_requests_total", action="EkleStkWsSkart.do", result="ok")
    metrics.observe("luca_request_seconds", 0.12, action="EkleStkWsSkart.do")
    metrics.count_now(conn, prefix, "webhook_deliveries_total", event="product.updated", result="accepted")
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import redis

from syncsvc.keys import Keys

log = logging.getLogger(__name__)

NAMESPACE = "syncsvc"
FLUSH_EVERY_S = 2.0
LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class Metric:
    kind: str  # "counter" | "histogram"
    help: str
    labels: tuple[str, ...]


# Every metric in one place: name (without the namespace) -> kind, help, label names.
METRICS: dict[str, Metric] = {
    "runs_total": Metric("counter", "Sync runs that ended, by type and status", ("sync_type", "status")),
    "items_total": Metric("counter", "Items of ended runs by outcome", ("sync_type", "outcome")),
    "retries_total": Metric("counter", "Per-item retries after a transient error", ("sync_type", "reason")),
    "luca_requests_total": Metric("counter", "HTTP requests sent to Luca", ("action", "result")),
    "luca_request_seconds": Metric("histogram", "Luca request latency", ("action",)),
    "luca_logins_total": Metric("counter", "Luca logins (first and re-logins)", ()),
    "katana_requests_total": Metric("counter", "HTTP requests sent to Katana", ("resource", "status")),
    "katana_request_seconds": Metric("histogram", "Katana request latency", ("resource",)),
    "katana_rate_limited_total": Metric("counter", "Katana 429 answers", ()),
    "katana_budget_waits_total": Metric("counter", "Waits for the shared Katana request budget", ()),
    "webhook_deliveries_total": Metric("counter", "Katana webhook deliveries received", ("event", "result")),
}


def counters_key(prefix: str) -> str:
    return Keys(prefix).metrics_counters()


def histograms_key(prefix: str) -> str:
    return Keys(prefix).metrics_histograms()


def last_success_key(prefix: str) -> str:
    return Keys(prefix).metrics_last_success()


def _field(name: str, labels: dict[str, str]) -> str:
    meta = METRICS.get(name)
    if meta is None:
        raise KeyError(f"unknown metric {name!r}; declare it in syncsvc.metrics.METRICS")
    if set(labels) != set(meta.labels):
        raise ValueError(f"metric {name} takes labels {meta.labels}, got {sorted(labels)}")
    # "|" and "=" never appear in our label values (types, actions, outcomes); strip them anyway.
    parts = [f"{k}={str(labels[k]).replace('|', '').replace('=', '')[:80]}" for k in meta.labels]
    return "|".join([name, *parts])


def parse_field(field: str) -> tuple[str, dict[str, str]]:
    name, *parts = field.split("|")
    return name, dict(p.split("=", 1) for p in parts)


class Sink:
    """Buffered increments for one process; thread-safe; flushes to Redis in one pipeline."""

    def __init__(self, conn: redis.Redis, prefix: str) -> None:
        self.conn = conn
        self.prefix = prefix
        self._counts: dict[str, float] = {}
        self._hist: dict[str, float] = {}
        self._lock = threading.Lock()
        self._flushed = time.monotonic()

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        field = _field(name, labels)
        with self._lock:
            self._counts[field] = self._counts.get(field, 0.0) + amount
        self._maybe_flush()

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        field = _field(name, labels)
        with self._lock:
            for bound in LATENCY_BUCKETS_S:
                if seconds <= bound:
                    key = f"{field}|le={bound}"
                    self._hist[key] = self._hist.get(key, 0.0) + 1
            for suffix, value in (("le=+Inf", 1.0), ("sum", seconds), ("count", 1.0)):
                key = f"{field}|{suffix}"
                self._hist[key] = self._hist.get(key, 0.0) + value
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._flushed >= FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, {}
            hist, self._hist = self._hist, {}
            self._flushed = time.monotonic()
        if not counts and not hist:
            return
        try:
            pipe = self.conn.pipeline(transaction=False)
            for field, value in counts.items():
                pipe.hincrbyfloat(counters_key(self.prefix), field, value)
            for field, value in hist.items():
                pipe.hincrbyfloat(histograms_key(self.prefix), field, value)
            pipe.execute()
        except redis.RedisError as exc:  # metrics never fail a run
            log.warning("metrics not flushed to Redis: %s", exc)


_sink: ContextVar[Sink | None] = ContextVar("syncsvc_metrics_sink", default=None)


@contextmanager
def collecting(conn: redis.Redis, prefix: str) -> Iterator[Sink]:
    """Bind a sink for the block (a run); flushed when the block ends. Pool threads started in a
    copy of this context (the engine's) count into it too."""
    sink = Sink(conn, prefix)
    token = _sink.set(sink)
    try:
        yield sink
    finally:
        _sink.reset(token)
        sink.flush()


def inc(name: str, amount: float = 1.0, **labels: str) -> None:
    sink = _sink.get()
    if sink is not None:
        sink.inc(name, amount, **labels)


def observe(name: str, seconds: float, **labels: str) -> None:
    sink = _sink.get()
    if sink is not None:
        sink.observe(name, seconds, **labels)


def count_now(conn: redis.Redis, prefix: str, name: str, amount: float = 1.0, **labels: str) -> None:
    """Count straight to Redis (the web process: webhook deliveries, resumes)."""
    try:
        conn.hincrbyfloat(counters_key(prefix), _field(name, labels), amount)
    except redis.RedisError as exc:
        log.warning("metric %s not counted: %s", name, exc)


def record_run(conn: redis.Redis, prefix: str, sync_type: str, status: str, counts: dict[str, int]) -> None:
    """A run ended: runs_total, items_total by outcome and (finished) the last-success time."""
    try:
        pipe = conn.pipeline(transaction=False)
        pipe.hincrbyfloat(counters_key(prefix), _field("runs_total", {"sync_type": sync_type, "status": status}), 1)
        for outcome, n in counts.items():
            if outcome != "total" and n:
                field = _field("items_total", {"sync_type": sync_type, "outcome": outcome})
                pipe.hincrbyfloat(counters_key(prefix), field, n)
        if status == "finished":
            pipe.hset(last_success_key(prefix), sync_type, time.time())
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("run metrics not recorded: %s", exc)
