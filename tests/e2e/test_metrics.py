"""GET /metrics after real runs by a separate worker process: the figures come from Redis (not the
web process's memory) and agree with the run history and the job results."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from sandbox.testing import Sandbox
from syncsvc import metrics
from tests.e2e.conftest import Stack
from tests.e2e.test_worker_logs import finish


def scrape(stack: Stack) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    resp = stack.session().get(f"{stack.url}/metrics", timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            out[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return out


def total(series: dict[tuple[tuple[str, str], ...], float], **match: str) -> float:
    return sum(v for labels, v in series.items() if all(dict(labels).get(k) == m for k, m in match.items()))


def test_metrics_agree_with_the_history_after_real_runs(json_stack: Stack, sandbox: Sandbox) -> None:
    url = json_stack.url
    s = json_stack.session()
    assert requests.get(f"{url}/metrics", timeout=5).status_code == 401
    sandbox.admin("luca", "POST", "faults", {"faults": {"bad_gateway": {"every": 4, "actions": ["EkleStkWsSkart"]}}})
    results = []
    for sync_type, limit in (("PRODUCT", 25), ("CUSTOMER", 10), ("PRODUCT", 5)):
        job = s.post(f"{url}/api/sync/start", json={"syncType": sync_type, "limit": limit}, timeout=5).json()
        ended = finish(s, url, job["jobId"])
        assert ended["state"] == "FINISHED", ended
        results.append(ended["result"])
    m = scrape(json_stack)

    runs = s.get(f"{url}/api/sync/history", timeout=5).json()["runs"]
    for sync_type in ("PRODUCT", "CUSTOMER"):
        mine = [r for r in runs if r["syncType"] == sync_type]
        assert total(m["syncsvc_runs_total"], sync_type=sync_type, status="finished") == len(mine)
        for outcome in ("created", "updated", "adopted", "skipped", "failed"):
            expected = sum(r[outcome] for r in mine)
            assert total(m["syncsvc_items_total"], sync_type=sync_type, outcome=outcome) == expected, outcome
    luca_sent = sum(r["lucaRequests"] for r in results)
    assert total(m["syncsvc_luca_requests_total"]) == luca_sent > 0
    assert total(m["syncsvc_luca_request_seconds_count"]) == luca_sent
    assert total(m["syncsvc_luca_request_seconds_bucket"], le="+Inf") == luca_sent
    assert total(m["syncsvc_luca_requests_total"], result="http_502") > 0
    assert total(m["syncsvc_katana_requests_total"]) == sum(r["katanaRequests"] for r in results) > 0
    assert total(m["syncsvc_retries_total"], sync_type="PRODUCT") > 0
    assert total(m["syncsvc_luca_logins_total"]) >= 1
    assert total(m["syncsvc_queue_jobs"], state="queued") == 0
    assert 0 <= total(m["syncsvc_seconds_since_last_success"], sync_type="PRODUCT") < 120
    assert ("sync_type", "INVOICE") not in {k for labels in m["syncsvc_seconds_since_last_success"] for k in labels}


def test_metrics_token_is_separate_from_the_api_token(redis_url: str, tmp_path: Path) -> None:
    from tests.service_fixtures import AUTH, make_app, make_settings

    app = make_app(make_settings(redis_url, tmp_path, metrics_token="scrape-only-token-1"))
    client = app.test_client()
    assert client.get("/metrics", headers=AUTH).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-only-token-1"})
    assert ok.status_code == 200 and b"syncsvc_runs_total" in ok.data
    assert client.get("/api/sync/history", headers={"Authorization": "Bearer scrape-only-token-1"}).status_code == 401


def test_counting_api_for_other_modules(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> None:
    from tests.service_fixtures import AUTH, make_app, make_settings

    settings = make_settings(redis_url, tmp_path)
    for result in ("accepted", "accepted", "bad_signature"):
        metrics.count_now(
            redis_conn, settings.key_prefix, "webhook_deliveries_total", event="product.updated", result=result
        )
    with pytest.raises(ValueError, match="takes labels"):
        metrics.count_now(redis_conn, settings.key_prefix, "webhook_deliveries_total", event="x")
    with metrics.collecting(redis_conn, settings.key_prefix):
        metrics.observe("katana_request_seconds", 0.2, resource="variants")
        metrics.observe("katana_request_seconds", 3.0, resource="variants")
    text = make_app(settings).test_client().get("/metrics", headers=AUTH).get_data(as_text=True)
    assert 'syncsvc_webhook_deliveries_total{event="product.updated",result="accepted"} 2.0' in text
    assert 'syncsvc_katana_request_seconds_bucket{le="0.25",resource="variants"} 1.0' in text
    assert 'syncsvc_katana_request_seconds_bucket{le="+Inf",resource="variants"} 2.0' in text
    assert 'syncsvc_katana_request_seconds_sum{resource="variants"} 3.2' in text
