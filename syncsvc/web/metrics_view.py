"""``GET /metrics``: Prometheus text rendered from the Redis-held figures (:mod:`syncsvc.metrics`)
plus gauges read at scrape time (queue depth, seconds since each type's last successful run).

Behind ``SYNC_METRICS_TOKEN`` (a scrape-only secret) or, when that is unset, the API token; with
neither configured only loopback clients may scrape, like the API."""

from __future__ import annotations

import hmac
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import redis
from flask import Flask, Response, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from rq.registry import FailedJobRegistry, StartedJobRegistry

from jobs.enqueue import sync_queue
from syncsvc import metrics
from syncsvc.domain.synctypes import SYNC_TYPE_NAMES
from syncsvc.settings import Settings
from syncsvc.store import pause
from syncsvc.web.auth import bearer_secret, is_loopback, unauthorized

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class RedisCollector(Collector):
    def __init__(self, conn: redis.Redis, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        prefix = self.settings.key_prefix
        pipe = self.conn.pipeline(transaction=False)
        pipe.hgetall(metrics.counters_key(prefix))
        pipe.hgetall(metrics.histograms_key(prefix))
        pipe.hgetall(metrics.last_success_key(prefix))
        counters, hists, last = pipe.execute()
        yield from self._counters({_text(k): float(v) for k, v in counters.items()})
        yield from self._histograms({_text(k): float(v) for k, v in hists.items()})
        yield from self._gauges({_text(k): float(v) for k, v in last.items()})

    def _counters(self, values: dict[str, float]) -> Iterator[Metric]:
        by_name: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
        for field, value in values.items():
            name, labels = metrics.parse_field(field)
            by_name[name].append((labels, value))
        for name, meta in metrics.METRICS.items():
            if meta.kind != "counter":
                continue
            family = CounterMetricFamily(
                f"{metrics.NAMESPACE}_{name.removesuffix('_total')}", meta.help, labels=meta.labels
            )
            for labels, value in sorted(by_name.get(name, []), key=lambda lv: sorted(lv[0].items())):
                family.add_metric([labels.get(k, "") for k in meta.labels], value)
            yield family

    def _histograms(self, values: dict[str, float]) -> Iterator[Metric]:
        series: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, float]] = defaultdict(dict)
        for field, value in values.items():
            name, rest = field.split("|", 1) if "|" in field else (field, "")
            parts = rest.split("|") if rest else []
            stat = parts[-1]
            labels = tuple(tuple(p.split("=", 1)) for p in parts[:-1])
            series[(name, labels)][stat] = value  # type: ignore[index]
        for name, meta in metrics.METRICS.items():
            if meta.kind != "histogram":
                continue
            family = HistogramMetricFamily(f"{metrics.NAMESPACE}_{name}", meta.help, labels=meta.labels)
            for (series_name, labels), stats in sorted(series.items()):
                if series_name != name:
                    continue
                label_map = dict(labels)
                buckets = [(str(b), stats.get(f"le={b}", 0.0)) for b in metrics.LATENCY_BUCKETS_S]
                buckets.append(("+Inf", stats.get("le=+Inf", 0.0)))
                family.add_metric([label_map.get(k, "") for k in meta.labels], buckets, stats.get("sum", 0.0))
            yield family

    def _gauges(self, last_success: dict[str, float]) -> Iterator[Metric]:
        queue = sync_queue(self.conn, self.settings)
        depth = GaugeMetricFamily(
            f"{metrics.NAMESPACE}_queue_jobs", "Jobs on the sync queue by state", labels=["state"]
        )
        depth.add_metric(["queued"], queue.count)
        depth.add_metric(["started"], StartedJobRegistry(queue=queue).count)
        depth.add_metric(["failed"], FailedJobRegistry(queue=queue).count)
        yield depth
        since = GaugeMetricFamily(
            f"{metrics.NAMESPACE}_seconds_since_last_success",
            "Seconds since the last successful run of each sync type (absent: none yet)",
            labels=["sync_type"],
        )
        now = time.time()
        for sync_type in SYNC_TYPE_NAMES:
            if sync_type in last_success:
                since.add_metric([sync_type], max(0.0, now - last_success[sync_type]))
        yield since
        paused = GaugeMetricFamily(
            f"{metrics.NAMESPACE}_paused", "1 while a sync type's scheduled runs are paused", labels=["sync_type"]
        )
        held = pause.all_paused(self.conn, self.settings.key_prefix)
        for sync_type in SYNC_TYPE_NAMES:
            paused.add_metric([sync_type], 1.0 if sync_type in held else 0.0)
        yield paused


def render(conn: redis.Redis, settings: Settings) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(conn, settings))
    return generate_latest(registry)


def install(app: Flask, conn: redis.Redis, settings: Settings) -> None:
    token = settings.metrics_token or settings.sync_api_token

    @app.get("/metrics")
    def metrics_route() -> Response:
        if token is None:
            if not is_loopback(request.remote_addr):
                return unauthorized("no SYNC_METRICS_TOKEN or SYNC_API_TOKEN: /metrics only answers loopback")
        else:
            secret = bearer_secret(request.headers.get("Authorization"))
            if secret is None:
                return unauthorized("missing credentials: send Authorization: Bearer <SYNC_METRICS_TOKEN>")
            if not hmac.compare_digest(secret.encode(), token.encode()):
                return unauthorized("invalid token")
        return Response(render(conn, settings), status=200, content_type=CONTENT_TYPE)
