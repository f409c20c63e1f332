"""Runs orphaned by a Redis that lost its data heal (issue #10 defect 8, jobs/orphans.py): the
orphan is closed with the reason and the items it did, and its unfinished work is done by the next
run of its type without anybody starting one.

Real Redis (a claimed database, emptied the way a FLUSHALL empties it), the real job function in
an RQ worker, the simulators and the real clients.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import SimpleWorker

from jobs.enqueue import start_sync, sync_queue
from jobs.orphans import heal, heal_all
from jobs.recovery import check
from sandbox.testing import Sandbox
from syncsvc.domain.model import ItemRecord, RunRequest
from syncsvc.settings import Settings, from_env
from syncsvc.store.history import History, open_history
from syncsvc.store.locks import RunLock
from syncsvc.store.serializer import PlainPickleSerializer
from tests.integration.engine_helpers import expected_card_codes, luca_state
from tests.redisdb import wipe
from tests.service_fixtures import AUTH, TOKEN, make_app


@pytest.fixture
def settings(sandbox: Sandbox, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The worker reads its settings from the environment (``jobs.tasks``): set it for both."""
    env = {
        "REDIS_URL": redis_url,
        "SYNC_KEY_PREFIX": "orphantest",
        "SYNC_HISTORY_DB": str(tmp_path / "history.db"),
        "KATANA_BASE_URL": f"{sandbox.katana_url}/v1",
        "LUCA_BASE_URL": f"{sandbox.luca_url}/Yetki",
        "SYNC_API_TOKEN": TOKEN,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return from_env(load_dotenv=False)


DEAD, DEAD_RETRY = "orphantest-deadrun", "orphantest-deadretry"  # job ids name their deployment
IN_PROCESS = "0123456789abcdef0123456789abcdef"  # a bare id: an in-process run (or one from before)


def work(conn: redis.Redis, settings: Settings) -> None:
    SimpleWorker([sync_queue(conn, settings)], connection=conn, serializer=PlainPickleSerializer).work(burst=True)


def runs(settings: Settings) -> dict[str, dict[str, Any]]:
    history = open_history(settings)
    try:
        return {r["run_id"]: r for r in history.list_runs(limit=100)[0]}
    finally:
        history.close()


def orphan_row(history: History, run_id: str, sync_type: str, status: str = "running", **params: Any) -> None:
    """What a run leaves in the history when its worker died and Redis lost its data too."""
    history.start_run(run_id, sync_type, {"limit": None, "dryRun": False, "mode": "full", **params}, False,
                      "api", "full")  # fmt: skip
    history.record_items(run_id, [ItemRecord("C-1", "created", luca_id=1), ItemRecord("C-2", "skipped")])
    if status == "retrying":
        history.interrupt_run(run_id, "retrying", {"total": 2, "created": 1, "skipped": 1}, "Unavailable: Luca 503")


def test_a_run_whose_redis_lost_its_data_closes_and_its_work_is_resumed(
    sandbox: Sandbox, settings: Settings, redis_conn: redis.Redis
) -> None:
    """The worker lives on; Redis is emptied mid-run (FLUSHALL). Before: the run ended ``failed``
    ("lost the run lock") and the cards it had not reached waited for someone to start PRODUCT."""
    sandbox.admin("luca", "POST", "faults", {"latency_ms": 40, "faults": {}})
    expected = expected_card_codes(sandbox)
    job_id = start_sync(redis_conn, settings, RunRequest("PRODUCT"))
    history = open_history(settings)

    def flush_mid_run() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and history.outcome_counts(job_id).get("created", 0) < 10:
            time.sleep(0.05)
        wipe(redis_conn)  # every job, registry, claim, lock, cursor and cache: gone

    flusher = threading.Thread(target=flush_mid_run)
    flusher.start()
    work(redis_conn, settings)  # the run, then (same burst) whatever the heal queued
    flusher.join()
    history.close()

    rows = runs(settings)
    orphan = rows[job_id]
    assert orphan["status"] == "failed" and orphan["finished_at"], orphan
    assert orphan["error"].startswith("JobVanished: Redis lost this run's job and run lock"), orphan["error"]
    assert "while syncing" in orphan["error"]
    done_before = orphan["created"]
    assert 10 <= done_before < len(expected)
    outcomes = ("created", "updated", "adopted", "skipped", "failed", "gone")
    assert orphan["total"] == sum(orphan[k] for k in outcomes) > done_before  # the rest: failed, not attempted
    (resumed,) = [r for r in rows.values() if r["parent_run_id"] == job_id]
    assert f"resumed by run {resumed['run_id']}" in orphan["error"]
    assert resumed["trigger"] == "recovery" and resumed["mode"] == "full" and resumed["status"] == "finished"
    sandbox.admin("luca", "POST", "faults", {"latency_ms": 0, "faults": {}})
    state = luca_state(sandbox)
    assert state["stock_cards"]["duplicate_codes"] == []
    assert state["stock_cards"]["count"] == len(expected)  # nothing left waiting for a person

    # The API shows the orphan's closing with its reason, and the items it had done.
    client = make_app(settings).test_client()
    listed = client.get("/api/sync/history?type=PRODUCT&status=failed", headers=AUTH).json
    assert [r["runId"] for r in listed["runs"]] == [job_id]
    assert listed["runs"][0]["error"] == orphan["error"]
    items = client.get(f"/api/sync/history/{job_id}/items?outcome=created", headers=AUTH).json
    assert items["total"] == done_before


def test_the_watchdog_closes_an_orphan_of_a_dead_worker_and_resumes_it(
    sandbox: Sandbox, settings: Settings, redis_conn: redis.Redis
) -> None:
    """The worker died and Redis lost its data: before, the row stayed ``running`` for ever and
    nothing resumed its work (the dead-run check starts from a claim Redis no longer has)."""
    history = open_history(settings)
    orphan_row(history, DEAD, "CUSTOMER")
    orphan_row(history, DEAD_RETRY, "PRODUCT", status="retrying", limit=5)  # limited: nothing to resume
    check(redis_conn, settings)  # one pass of every worker's watchdog thread
    assert heal_all(redis_conn, settings) == []  # closed once
    closed = history.get_run(DEAD)
    assert closed is not None and closed["status"] == "failed", closed
    assert closed is not None and closed["status"] == "failed"
    assert (closed["total"], closed["created"], closed["skipped"]) == (2, 1, 1)
    queued = sync_queue(redis_conn, settings).job_ids
    assert len(queued) == 1 and closed["error"].endswith(f"resumed by run {queued[0]}")
    limited = history.get_run(DEAD_RETRY)
    assert limited is not None and limited["status"] == "failed"
    assert limited["error"].endswith("a dry or limited run: nothing to resume")
    history.close()

    work(redis_conn, settings)
    resumed = runs(settings)[queued[0]]
    assert (resumed["parent_run_id"], resumed["trigger"], resumed["status"]) == (DEAD, "recovery", "finished")
    assert luca_state(sandbox)["customers"]["count"] == resumed["total"] - resumed["failed"] > 0


def test_a_start_of_that_type_closes_the_orphan_and_covers_its_work(
    sandbox: Sandbox, settings: Settings, redis_conn: redis.Redis
) -> None:
    history = open_history(settings)
    orphan_row(history, DEAD, "CUSTOMER")
    history.close()
    job_id = start_sync(redis_conn, settings, RunRequest("CUSTOMER"))  # no cursor left: a full run
    work(redis_conn, settings)
    rows = runs(settings)
    assert rows[DEAD]["status"] == "failed"
    assert rows[DEAD]["error"].endswith(f"its unfinished work is done by run {job_id}")
    assert rows[job_id]["status"] == "finished" and len(rows) == 2  # no continuation besides it
    assert sync_queue(redis_conn, settings).job_ids == []


def test_runs_redis_still_knows_are_not_orphans(settings: Settings, redis_conn: redis.Redis) -> None:
    history = open_history(settings)
    queued = start_sync(redis_conn, settings, RunRequest("CUSTOMER"))
    orphan_row(history, queued, "CUSTOMER")  # its job is in Redis (an execution will resume it)
    orphan_row(history, IN_PROCESS, "PRODUCT")  # no RQ job, but it holds its run lock: alive
    RunLock(redis_conn, settings.key_prefix, "PRODUCT", IN_PROCESS).acquire()
    assert heal(redis_conn, settings, history, "CUSTOMER") == []
    assert heal(redis_conn, settings, history, "PRODUCT") == []
    assert {history.get_run(r)["status"] for r in (queued, IN_PROCESS)} == {"running"}  # type: ignore[index]
    history.close()


def test_a_targeted_run_leaves_the_orphan_to_a_run_that_reads_everything(
    sandbox: Sandbox, settings: Settings, redis_conn: redis.Redis
) -> None:
    """A retry of failed items (keys) reads too little to cover an orphan, and holds the type's
    claim: it runs as usual, the orphan stays open, and the next check resumes it."""
    history = open_history(settings)
    orphan_row(history, DEAD, "PRODUCT")
    retry = start_sync(redis_conn, settings, RunRequest("PRODUCT", trigger="retry", keys=("variant:1",)))
    work(redis_conn, settings)
    assert runs(settings)[retry]["status"] == "finished"
    assert history.get_run(DEAD)["status"] == "running"  # type: ignore[index]
    check(redis_conn, settings)
    closed = history.get_run(DEAD)
    history.close()
    assert closed is not None and closed["status"] == "failed" and "resumed by run" in closed["error"]


def test_another_deployments_run_is_never_healed_here(settings: Settings, redis_conn: redis.Redis) -> None:
    """A history shared by mistake with another deployment (its own Redis, its own queue): its
    runs are not in our Redis, yet they are alive; closing them and starting their work here
    would run two syncs at once."""
    history = open_history(settings)
    orphan_row(history, "prod-0123456789abcdef0123456789abcdef", "CUSTOMER")
    orphan_row(history, "orphantest-x-0123456789abcdef0123456789abcdef", "CUSTOMER")  # instance "orphantest-x"
    assert heal(redis_conn, settings, history, "CUSTOMER") == []
    assert sync_queue(redis_conn, settings).job_ids == []
    history.close()
