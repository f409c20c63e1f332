"""Run-level guarantees: one run per type, and a crashed run re-run finishes without duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis

from sandbox.testing import Sandbox
from syncsvc.domain.errors import AlreadyRunning
from syncsvc.store.history import open_history
from syncsvc.store.locks import RunLock
from tests.integration.engine_helpers import engine_settings, expected_card_codes, luca_records, luca_state, run


def test_a_second_run_of_the_same_type_is_refused(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path)
    conn = redis.Redis.from_url(redis_url)
    holder = RunLock(conn, settings.key_prefix, "PRODUCT", "someone-else")
    holder.acquire()
    try:
        started = time.monotonic()
        with pytest.raises(AlreadyRunning, match="someone-else"):
            run(settings, "PRODUCT", limit=5)
        assert time.monotonic() - started < 5
        assert luca_state(sandbox)["stock_cards"]["count"] == 0
        run(settings, "CUSTOMER", limit=3)  # other types are not blocked
    finally:
        holder.release()
        conn.close()


CRASHING_RUN = textwrap.dedent("""
    import redis, sys
    from jobs.run import run_sync
    from syncsvc.domain.model import RunRequest
    from syncsvc.settings import Settings
    s = Settings(redis_url=sys.argv[1], key_prefix="t", katana_base_url=sys.argv[2], luca_base_url=sys.argv[3],
                 history_db=sys.argv[4])
    conn = redis.Redis.from_url(sys.argv[1])
    run_sync(RunRequest("PRODUCT", mode="full"), settings=s, conn=conn, run_id="crashy-run")
""")


def test_rerun_after_a_crash_halfway_finishes_the_rest_without_duplicates(
    sandbox: Sandbox, redis_url: str, tmp_path: Path
) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path)
    expected = expected_card_codes(sandbox)
    sandbox.admin("luca", "POST", "faults", {"latency_ms": 20, "faults": {}})
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_RUN, redis_url, settings.katana_base_url, settings.luca_base_url,
         settings.history_db], cwd=os.getcwd(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while luca_state(sandbox)["stock_cards"]["count"] < len(expected) // 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # a worker dying halfway: no cleanup, lock and history left behind
    proc.wait()
    halfway = luca_state(sandbox)["stock_cards"]["count"]
    assert 0 < halfway < len(expected)

    # The run is handed back under the same id (jobs/recovery.py) once the dead execution's lock
    # has expired; while it lives, even the same run may not start a second execution.
    conn = redis.Redis.from_url(redis_url)
    from jobs.run import run_sync
    from syncsvc.domain.errors import AlreadyRunning
    from syncsvc.domain.model import RunRequest
    from syncsvc.keys import Keys

    with pytest.raises(AlreadyRunning):
        run_sync(RunRequest("PRODUCT", mode="full"), settings=settings, conn=conn, run_id="crashy-run")
    conn.delete(Keys(settings.key_prefix).run_lock("PRODUCT"))  # what 60 s without a heartbeat do
    summary = run_sync(RunRequest("PRODUCT", mode="full"), settings=settings, conn=conn, run_id="crashy-run")
    conn.close()
    state = luca_state(sandbox)
    assert state["stock_cards"]["duplicate_codes"] == []
    assert sorted(r["kartKodu"] for r in luca_records(sandbox, "stock_cards")) == sorted(expected)
    assert summary["created"] + summary["adopted"] + summary["skipped"] == len(expected)
    assert summary["created"] <= len(expected) - halfway + 5  # in-flight creates of the killed run show as adopted
    history = open_history(settings.history_db)
    runs, total = history.list_runs()
    assert total == 1 and runs[0]["status"] == "finished"  # one run, its items recorded once
    history.close()


def test_customer_and_invoice_runs_at_once_create_each_cari_once(
    sandbox: Sandbox, redis_url: str, tmp_path: Path
) -> None:
    # Luca has no uniqueness guard for cari: without per-key creation claims, the CUSTOMER run and
    # the INVOICE run's dependency step both see a customer missing and both create it.
    import threading

    settings = engine_settings(sandbox, redis_url, tmp_path)
    sandbox.admin("luca", "POST", "faults", {"latency_ms": 30, "jitter_ms": 20, "faults": {}})
    results: dict[str, dict[str, object]] = {}

    def sync(sync_type: str) -> None:
        results[sync_type] = run(settings, sync_type)

    threads = [threading.Thread(target=sync, args=(t,)) for t in ("CUSTOMER", "INVOICE")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {"CUSTOMER", "INVOICE"}
    state = luca_state(sandbox)
    assert state["customers"]["duplicate_codes"] == []
    codes = [r["kartKod"] for r in luca_records(sandbox, "customers")]
    assert len(codes) == len(set(codes)) > 0
