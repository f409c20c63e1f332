"""Continuous sync (issue #12): incremental re-sync, webhook to Luca, downtime catch-up.

Production path as everywhere in the bench: gunicorn + ``rq worker sync`` (+ the Katana webhook
deliveries of the simulator into the web process), against the simulators over loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import redis
import requests

from bench import infra
from bench.ideal import katana_page_s, luca_log, luca_times, set_katana_latency
from bench.runs import Measured, run_jobs
from bench.table import Row
from jobs.schedule import fire
from sandbox.testing import Sandbox
from syncsvc.domain.convert import canonical_code
from syncsvc.settings import from_env
from syncsvc.store.history import open_history
from syncsvc.store.pending import PendingEvents

KATANA_LATENCY_MS = 300
LUCA_LATENCY_MS = 100
WEBHOOK_TOKEN = "bench-webhook-token"
HOOK_EVENTS = ["variant.created", "variant.updated", "variant.deleted", "product.created", "product.updated"]


def _row(name: str, m: Measured, ideal: float | None, notes: str) -> Row:
    return Row(name, m.total("total"), m.wall_s, ideal, luca=m.total("lucaRequests"),
               katana=m.total("katanaRequests"), katana_429=m.total("katanaRateLimited"), peak_rss=m.peak_rss,
               cpu_s=m.cpu_s, notes=notes)  # fmt: skip


def _variants(sb: Sandbox) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {infra.OBSERVER_KEY}"
        while True:
            resp = http.get(f"{sb.katana_url}/v1/variants", params={"limit": 250, "page": page}, timeout=60)
            if resp.status_code == 429:  # the observer key shares Katana's 60/min budget: 10k variants are 41 pages
                time.sleep(float(resp.headers.get("Retry-After", "1")))
                continue
            resp.raise_for_status()
            data = resp.json()["data"]
            rows += data
            if len(data) < 250:
                return rows
            page += 1


def _synced(sb: Sandbox) -> list[dict[str, Any]]:
    cards = {r["kartKodu"] for r in sb.admin("luca", "GET", "stock_cards")["records"]}
    out = []
    for v in _variants(sb):
        try:
            if v.get("sku") and canonical_code(v["sku"]) in cards:
                out.append(v)
        except Exception:  # noqa: BLE001 - invalid SKUs are not cards
            continue
    return out


def _writes(sb: Sandbox, since: float) -> int:
    return luca_times(luca_log(sb), since).writes


# -- I1: incremental re-sync of a 10,000-variant catalog -------------------------------------------


def incremental(ctx: Any) -> None:
    products = ctx.size(11000, 1100)
    changed_n, new_n, deleted_n = ctx.size(100, 10), 50, 20
    with infra.sandbox("--products", str(products), "--variants-per-product", "1-1") as sb:
        page = katana_page_s(sb, "variants", {"extend": "product_or_material"})
        with ctx.stack(sb, "incremental") as stack:
            run_jobs(stack, [{"syncType": "PRODUCT", "mode": "full"}])  # set-up: Luca holds the catalog
            synced = _synced(sb)
            for v in synced[:changed_n]:
                sb.admin("katana", "PATCH", f"variants/{v['id']}", {"sales_price": 999.25})
            for i in range(new_n):
                sb.admin("katana", "POST", "products", {"name": f"Bench Yeni {i}", "variants": [{"sku": f"BN-{i}"}]})
            for v in synced[changed_n : changed_n + deleted_n]:
                sb.admin("katana", "DELETE", f"variants/{v['id']}")
            set_katana_latency(sb, KATANA_LATENCY_MS)
            sb.admin("luca", "POST", "faults", {"latency_ms": LUCA_LATENCY_MS})
            inc = run_jobs(stack, [{"syncType": "PRODUCT"}])
            inc_writes = _writes(sb, inc.t0)
            full = run_jobs(stack, [{"syncType": "PRODUCT", "mode": "full"}])
            sb.admin("luca", "POST", "faults", {"latency_ms": 0})
            set_katana_latency(sb, 0)
    result = inc.jobs[0].result
    pages = inc.total("katanaRequests")
    ideal = inc_writes * (LUCA_LATENCY_MS / 1000) / 5 + pages * (page + KATANA_LATENCY_MS / 1000)
    gone, refetched = result.get("gone", 0), result.get("refetched", 0)
    ctx.emit(_row(f"I1 incremental re-sync: {result.get('total')} read of ~{products} variants "
                  f"({changed_n} changed, {new_n} new, {deleted_n} deleted)", inc, ideal,
                  f"mode {result.get('mode')}; Luca writes {inc_writes} (want {changed_n + new_n}); "
                  f"{gone} gone; Katana requests {pages} (window pages + {refetched} retry-set refs by ids=); "
                  f"{full.wall_s / inc.wall_s:.1f}× faster than the full re-sync below"))  # fmt: skip
    ctx.emit(_row("I1 full re-sync of the same catalog (same latencies)", full, None,
                  f"mode {full.jobs[0].result.get('mode')}; {full.total('skipped')} skipped"))  # fmt: skip


# -- I2: webhook to Luca ------------------------------------------------------------------------


def _register(sb: Sandbox, url: str) -> dict[str, Any]:
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {infra.OBSERVER_KEY}"
        resp = http.post(f"{sb.katana_url}/v1/webhooks", json={"url": url, "subscribed_events": HOOK_EVENTS},
                         timeout=10)  # fmt: skip
        resp.raise_for_status()
        return dict(resp.json())


def _patch_hook(sb: Sandbox, hook_id: int, url: str) -> None:
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {infra.OBSERVER_KEY}"
        http.patch(f"{sb.katana_url}/v1/webhooks/{hook_id}", json={"url": url}, timeout=10).raise_for_status()


def _idle(stack: infra.Stack, sync_type: str, timeout_s: float = 300) -> None:
    """Until no webhook event is pending and no drain is queued or running."""
    conn = redis.Redis.from_url(stack.env["REDIS_URL"])
    pending = PendingEvents(conn, stack.env["SYNC_KEY_PREFIX"], sync_type)
    lock = f"{stack.env['SYNC_KEY_PREFIX']}:lock:run:{sync_type}"
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while time.monotonic() < deadline:
        busy = pending.size() or pending.queued_drain() or conn.exists(lock)
        quiet = 0 if busy else quiet + 1
        if quiet >= 10:  # 1 s of calm
            conn.close()
            return
        time.sleep(0.1)
    conn.close()
    raise RuntimeError(f"{sync_type} drains did not settle in {timeout_s} s")


def _item_times(history_db: str, since_iso: str) -> dict[str, list[tuple[str, str]]]:
    """item key -> [(finished_at, outcome)] of drain runs after ``since_iso``."""
    history = open_history(history_db)
    out: dict[str, list[tuple[str, str]]] = {}
    try:
        runs, _ = history.list_runs("PRODUCT", limit=10000)
        for run in runs:
            if (run.get("started_at") or "") < since_iso or run.get("mode") != "drain":
                continue
            items, _ = history.list_items(run["run_id"], limit=100000)
            for item in items:
                out.setdefault(item["item_key"], []).append((item["finished_at"], item["outcome"]))
    finally:
        history.close()
    return out


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def webhooks(ctx: Any) -> None:
    rate, seconds = 20, ctx.size(60, 10)
    products = max(1500, rate * seconds + 300)
    args = ("--products", str(products), "--variants-per-product", "1-1", "--katana-webhook-retry-scale", "0.01")
    with infra.sandbox(*args) as sb:
        hook = _register(sb, "https://example.invalid/api/webhooks/katana")
        with ctx.stack(sb, "webhooks", KATANA_WEBHOOK_TOKEN=hook["token"]) as stack:
            _patch_hook(sb, hook["id"], f"{stack.url}/api/webhooks/katana")
            sb.admin("katana", "POST", "faults", {"webhook_drop": 1.0})  # the set-up run's own changes: none
            run_jobs(stack, [{"syncType": "PRODUCT", "mode": "full"}])
            victims = _synced(sb)[: rate * seconds]
            sb.admin("luca", "POST", "faults", {"latency_ms": LUCA_LATENCY_MS})
            sb.admin("katana", "POST", "faults", {"webhook_drop": 0.0, "webhook_duplicate": 1.0})
            writes_before = _writes(sb, 0)
            log_from = sb.admin("katana", "GET", "webhook_deliveries")["next_index"]
            since_iso = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            started = time.monotonic()
            for i, v in enumerate(victims):
                wait = started + i / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                sb.admin("katana", "PATCH", f"variants/{v['id']}", {"sales_price": 1234.5})
            _idle(stack, "PRODUCT")
            writes = _writes(sb, 0) - writes_before
            deliveries = sb.admin("katana", "GET", "webhook_deliveries", since=log_from)["deliveries"]
            items = _item_times(stack.env["SYNC_HISTORY_DB"], since_iso)
            held = {r["kartKodu"]: r for r in sb.admin("luca", "GET", "stock_cards")["records"]}
            endpoint = _endpoint_latency(stack, ctx.size(10, 3))
            sb.admin("luca", "POST", "faults", {"latency_ms": 0})
    first_delivery: dict[int, float] = {}
    for d in deliveries:
        if d["status"] == 200 and d["object_id"] not in first_delivery:
            first_delivery[d["object_id"]] = d["sent_at"] - (d["duration_ms"] or 0) / 1000
    latencies = []
    for v in victims:
        code = canonical_code(v["sku"])
        done = sorted(_epoch(t) for t, outcome in items.get(code, []) if outcome == "updated")
        if done and v["id"] in first_delivery:
            latencies.append(done[0] - first_delivery[v["id"]])
    reached = sum(1 for v in victims if float(held[canonical_code(v["sku"])]["perakendeSatisBirimFiyat"]) == 1234.5)
    q = statistics.quantiles(latencies, n=20) if len(latencies) >= 20 else [float("nan")] * 19
    wall = time.monotonic() - started
    p50 = statistics.median(latencies) if latencies else float("nan")
    name = f"I2 webhook to Luca: {rate} variants/s for {seconds} s, each delivery twice (L={LUCA_LATENCY_MS} ms)"
    notes = (
        f"{reached}/{len(victims)} reached Luca; delivery→write p50 {p50:.2f} s, p95 {q[18]:.2f} s "
        f"(want ≤1.5 / ≤3); Luca writes {writes} for {len(victims)} changes ({writes - len(victims)} extra); "
        f"{len(deliveries)} deliveries"
    )
    ctx.emit(Row(name, len(victims), wall, None, luca=writes, notes=notes))
    latency = f"p50 {endpoint['p50'] * 1000:.1f} ms, p99 {endpoint['p99'] * 1000:.1f} ms (want ≤100 ms)"
    ctx.emit(Row(f"I2 webhook endpoint at {endpoint['rate']:.0f} deliveries/s", int(endpoint["count"]),
                 endpoint["wall"], None, notes=f"{latency}; {endpoint['errors']:.0f} errors"))  # fmt: skip


def _endpoint_latency(stack: infra.Stack, seconds: int, rate: int = 200) -> dict[str, float]:
    """Signed deliveries at ``rate``/s from 16 client threads; latency per request."""
    url = f"{stack.url}/api/webhooks/katana"
    token = stack.env["KATANA_WEBHOOK_TOKEN"]
    local = threading.local()
    times: list[float] = []
    errors = 0
    lock = threading.Lock()

    def send(i: int, due: float) -> None:
        nonlocal errors
        http = getattr(local, "http", None) or requests.Session()
        local.http = http
        body = json.dumps({"resource_type": "variant", "action": "variant.updated", "webhook_id": 1,
                           "object": {"id": 50_000_000 + i % 5000, "status": None}}).encode()  # fmt: skip
        sig = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        t = time.perf_counter()
        resp = http.post(url, data=body, headers={"Content-Type": "application/json", "x-sha2-signature": sig},
                         timeout=10)  # fmt: skip
        elapsed = time.perf_counter() - t
        with lock:
            times.append(elapsed)
            errors += resp.status_code != 200

    count = rate * seconds
    start = time.monotonic() + 0.2
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: send(i, start + i / rate), range(count)))
    wall = time.monotonic() - start
    q = statistics.quantiles(times, n=100)
    return {"count": count, "wall": wall, "rate": count / wall, "p50": statistics.median(times), "p99": q[98],
            "errors": errors}  # fmt: skip


# -- I3: downtime catch-up ------------------------------------------------------------------------


def downtime(ctx: Any) -> None:
    changes = ctx.size(300, 40)
    args = ("--products", str(ctx.size(1500, 300)), "--variants-per-product", "1-1")
    with infra.sandbox(*args) as sb:
        hook = _register(sb, "https://example.invalid/api/webhooks/katana")
        with ctx.stack(sb, "downtime", KATANA_WEBHOOK_TOKEN=hook["token"]) as stack:
            _patch_hook(sb, hook["id"], f"{stack.url}/api/webhooks/katana")
            run_jobs(stack, [{"syncType": "PRODUCT", "mode": "full"}])
            _idle(stack, "PRODUCT")
            sb.admin("katana", "POST", "faults", {"webhook_drop": 1.0})  # the receiver is "down"
            victims = _synced(sb)[:changes]
            for v in victims:
                sb.admin("katana", "PATCH", f"variants/{v['id']}", {"sales_price": 777.75})
            sb.admin("katana", "POST", "faults", {"webhook_drop": 0.0})
            writes_before = _writes(sb, 0)
            conn = redis.Redis.from_url(stack.env["REDIS_URL"])
            settings = from_env(stack.env, load_dotenv=False)
            t0 = time.time()
            tick = fire(conn, settings, "PRODUCT", datetime.now(UTC).replace(second=0, microsecond=0))
            conn.close()
            job_id = str(tick.get("jobId"))
            from bench.runs import _wait

            conn = redis.Redis.from_url(stack.env["REDIS_URL"])
            job = _wait(conn, "PRODUCT", job_id, 600, stack)
            conn.close()
            writes = _writes(sb, 0) - writes_before
            state = sb.admin("luca", "GET", "state")
            held = {r["kartKodu"]: r for r in sb.admin("luca", "GET", "stock_cards")["records"]}
    lost = sum(1 for v in victims if float(held[canonical_code(v["sku"])]["perakendeSatisBirimFiyat"]) != 777.75)
    duplicates = len(state["stock_cards"]["duplicate_codes"])
    wall = job.ended.replace(tzinfo=UTC).timestamp() - t0
    ctx.emit(Row(f"I3 downtime: {changes} changes while webhooks were dropped, then the scheduled run",
                 int(job.result.get("total") or 0), wall, None, luca=writes,
                 katana=int(job.result.get("katanaRequests") or 0),
                 notes=f"mode {job.result.get('mode')} (tick {tick['outcome']}); {lost} lost, {duplicates} duplicate "
                       f"cards; {writes} Luca writes for {changes} changes"))  # fmt: skip
