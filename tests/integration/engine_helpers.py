"""Helpers for driving the real engine against the simulators and computing what Luca must hold."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import redis
import requests

from jobs.run import run_sync
from sandbox.testing import Sandbox
from syncsvc.domain.convert import canonical_code
from syncsvc.domain.errors import SyncError
from syncsvc.domain.model import RunRequest
from syncsvc.settings import Settings
from syncsvc.store.history import open_history

# A second key the sandbox accepts: the test's own reads don't eat the engine's budget.
OBSERVER_KEY = "bench-katana-key"


def engine_settings(sb: Sandbox, redis_url: str, tmp_path: Path, **over: Any) -> Settings:
    base = Settings(
        redis_url=redis_url, key_prefix="t", katana_base_url=f"{sb.katana_url}/v1",
        luca_base_url=f"{sb.luca_url}/Yetki", history_db=str(tmp_path / "history.db"),
        retry_base_s=0.05, retry_max_s=0.5, luca_timeout_s=5.0,
        # Longer than the sandbox's slow fault (2.5 s in these tests): a timed-out create has landed.
        luca_write_settle_s=3.0,
    )  # fmt: skip
    return base.with_overrides(**over)


def run(settings: Settings, sync_type: str, **kw: Any) -> dict[str, Any]:
    conn = redis.Redis.from_url(settings.redis_url or "")
    try:
        kw.setdefault("mode", "full")  # the engine tests predate modes: each run reads everything
        request = RunRequest(sync_type, trigger="direct", **kw)
        return run_sync(request, settings=settings, conn=conn, run_id=uuid.uuid4().hex)
    finally:
        conn.close()


def katana_list(sb: Sandbox, path: str, **params: Any) -> list[dict[str, Any]]:
    """Read a whole Katana list with plain requests (independent of the client under test)."""
    rows: list[dict[str, Any]] = []
    page = 1
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {OBSERVER_KEY}"
        while True:
            resp = http.get(f"{sb.katana_url}/v1/{path}", params={**params, "limit": 250, "page": page}, timeout=30)
            resp.raise_for_status()
            data = resp.json()["data"]
            rows += data
            if len(data) < 250:
                return rows
            page += 1


def expected_card_codes(sb: Sandbox) -> set[str]:
    """Codes Luca must hold after a full PRODUCT sync: one per valid, non-colliding SKU."""
    skus = [v.get("sku") for v in katana_list(sb, "variants")]
    skus += [
        v.get("sku") for s in katana_list(sb, "services") for v in s.get("variants") or [] if not v.get("deleted_at")
    ]
    codes = []
    for sku in skus:
        try:
            codes.append(canonical_code(sku))
        except SyncError:
            pass
    counts = Counter(codes)
    return {c for c, n in counts.items() if n == 1}


def luca_records(sb: Sandbox, kind: str) -> list[dict[str, Any]]:
    return list(sb.admin("luca", "GET", kind)["records"])


def luca_state(sb: Sandbox) -> dict[str, Any]:
    return dict(sb.admin("luca", "GET", "state"))


def luca_writes(sb: Sandbox) -> int:
    writes = 0
    for action in ("EkleStkWsSkart", "GuncelleStkWsSkart", "EkleFinMusteriWS", "EkleFtrWsFaturaBaslik"):
        writes += len(sb.admin("luca", "GET", "requests", action=action))
    return writes


def assert_accounted(settings: Settings, summary: dict[str, Any]) -> None:
    """Every item has exactly one outcome in the history and the counts add up."""
    history = open_history(settings)
    try:
        run_row = history.get_run(summary["runId"])
        assert run_row is not None and run_row["status"] == "finished"
        items, total = history.list_items(summary["runId"], limit=100000)
        assert total == summary["total"] == len({i["item_key"] for i in items})
        counts = Counter(i["outcome"] for i in items)
        for outcome in ("created", "updated", "adopted", "skipped", "gone", "failed"):
            assert counts.get(outcome, 0) == summary[outcome] == run_row[outcome]
    finally:
        history.close()
