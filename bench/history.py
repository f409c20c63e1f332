"""Scenario 8: what writing the run history costs per item, SQLite beside PostgreSQL, in one run.

Two measurements per backend, both at 0 ms latency on a 10,000-item run:
- the store alone: ``record_items`` in batches of 20 (the engine's batch), one transaction each,
  as a worker does it; items/s and µs per item are the history's own cost;
- the production path: a cold PRODUCT sync of the same size with the history on that backend, to
  show what share of a run's time the history takes.

PostgreSQL: a database created for this run on ``BENCH_PG_URL`` (default the machine's
127.0.0.1:5432, user postgres) and dropped afterwards. No server: the PostgreSQL rows say so.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from bench import infra
from bench.ideal import katana_page_s, luca_log, luca_times
from bench.runs import run_jobs
from bench.table import Row
from syncsvc.domain.model import ItemRecord
from syncsvc.store.history import open_history

if TYPE_CHECKING:
    from bench.scenarios import Ctx

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 20  # the engine's SYNC_BATCH_SIZE default: one history transaction per batch


@contextmanager
def pg_database() -> Iterator[tuple[str | None, str]]:
    """(URL of a fresh database, "") or (None, why there is none)."""
    import psycopg
    from psycopg import sql

    admin = os.environ.get("BENCH_PG_URL") or ADMIN_URL
    name = f"syncsvc_bench_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        yield None, f"no PostgreSQL at {urlsplit(admin).hostname}: {str(exc).splitlines()[0][:80]}"
        return
    parts = urlsplit(admin)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, "", "")), ""
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def store_alone(target: str, items: int) -> float:
    """Seconds to record ``items`` outcomes the way a run does (start, batches, finish)."""
    history = open_history(target)
    try:
        records = [ItemRecord(f"SKU-{n:06}", "created", "card", luca_id=n, attempts=1) for n in range(items)]
        began = time.perf_counter()
        history.start_run("bench", "PRODUCT", {}, False)
        for i in range(0, items, BATCH):
            history.record_items("bench", records[i : i + BATCH])
        history.finish_run("bench", "finished", {"total": items, "created": items})
        return time.perf_counter() - began
    finally:
        history.close()


def history_cost(ctx: Ctx) -> None:
    items = ctx.size(10000, 1000)
    with pg_database() as (pg_url, why):
        backends = {"SQLite": str(ctx.workdir / "bench-history.db"), "PostgreSQL": pg_url}
        for name, target in backends.items():
            label = f"8 history writes alone: {name}, batches of {BATCH} (0 ms)"
            if target is None:
                ctx.emit(Row(label, 0, 0.0, notes=f"not measured: {why}"))
                continue
            seconds = store_alone(target, items)
            ctx.emit(Row(label, items, seconds, notes=f"{items / seconds:.0f} items/s; "
                                                      f"{seconds * 1e6 / items:.0f} µs/item"))  # fmt: skip
        products = ctx.size(11000, 1100)
        with infra.sandbox("--products", str(products), "--variants-per-product", "1-1") as sb:
            page = katana_page_s(sb, "variants", {"extend": "product_or_material"})
            for name, target in backends.items():
                if target is None:
                    continue
                sb.reset()
                label = f"history-{name.lower()}"
                on_pg = name == "PostgreSQL"
                with ctx.stack(sb, label, SYNC_HISTORY_URL=target) if on_pg else ctx.stack(sb, label) as stack:
                    m = run_jobs(stack, [{"syncType": "PRODUCT"}])
                lt = luca_times(luca_log(sb), m.t0)
                ideal = m.total("katanaRequests") * page + lt.ideal(5)
                total = m.total("total")
                ctx.emit(Row(f"8 cold sync at 0 ms, history on {name}", total, m.wall_s, ideal,
                             luca=m.total("lucaRequests"), katana=m.total("katanaRequests"),
                             katana_429=m.total("katanaRateLimited"), peak_rss=m.peak_rss, cpu_s=m.cpu_s,
                             notes=f"{total / m.wall_s:.0f} items/s"))  # fmt: skip
