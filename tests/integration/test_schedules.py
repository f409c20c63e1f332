"""Scheduled incremental runs: the tick job, the leader-locked scheduler, and /api/sync/status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from rq import SimpleWorker

from jobs.enqueue import claim_key, start_sync, sync_queue
from jobs.schedule import fire, next_run, tick_of
from syncsvc.domain.errors import ConfigError
from syncsvc.domain.model import RunRequest
from syncsvc.ops.scheduler import LeaderCron
from syncsvc.settings import Settings, from_env
from syncsvc.store.cursors import Cursors
from syncsvc.store.history import open_history
from syncsvc.store.pause import paused_key
from syncsvc.store.pending import PendingEvents
from syncsvc.store.retryset import Failure, RetrySet
from syncsvc.store.serializer import PlainPickleSerializer
from tests.service_fixtures import AUTH, make_app, make_settings

TICK = datetime(2026, 12, 3, 22, 10, tzinfo=UTC)


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return make_settings(redis_url, tmp_path)


def test_cron_settings_and_ticks() -> None:
    env = {"SYNC_SCHEDULE_PRODUCT": "*/10 * * * *", "SYNC_SCHEDULE_CUSTOMER": ""}
    settings = from_env(env, load_dotenv=False)
    assert settings.schedules == {"PRODUCT": "*/10 * * * *", "CUSTOMER": "", "INVOICE": "*/5 * * * *"}
    with pytest.raises(ConfigError, match="SYNC_SCHEDULE_INVOICE must be a cron expression"):
        from_env({"SYNC_SCHEDULE_INVOICE": "every 5 minutes"}, load_dotenv=False)
    assert next_run("*/10 * * * *", TICK) == TICK + timedelta(minutes=10)
    assert next_run("", TICK) is None
    # rq enqueues a moment after the tick; the job still belongs to that tick.
    assert tick_of("*/10 * * * *", TICK + timedelta(seconds=2)) == TICK


def test_a_tick_starts_once_and_a_busy_type_is_recorded_skipped(settings: Settings, redis_conn: redis.Redis) -> None:
    first = fire(redis_conn, settings, "PRODUCT", TICK)
    assert first["outcome"] == "started"
    job = sync_queue(redis_conn, settings).fetch_job(first["jobId"])
    assert job is not None and job.args[0]["trigger"] == "schedule" and job.args[0]["mode"] == "full"
    # The same tick enqueued by a second scheduler does nothing at all.
    assert fire(redis_conn, settings, "PRODUCT", TICK)["outcome"] == "duplicate"
    # The next tick finds the first run still queued: recorded as skipped, not queued behind it.
    later = fire(redis_conn, settings, "PRODUCT", TICK + timedelta(minutes=10))
    assert later["outcome"] == "skipped" and later["runningJob"] == first["jobId"]
    assert sync_queue(redis_conn, settings).count == 1
    history = open_history(settings)
    try:
        row = history.get_run(later["runId"])
    finally:
        history.close()
    assert row is not None and row["status"] == "skipped" and row["trigger"] == "schedule"
    assert first["jobId"] in row["error"]


def test_a_paused_type_starts_nothing(settings: Settings, redis_conn: redis.Redis) -> None:
    redis_conn.hset(paused_key(settings.key_prefix), "INVOICE", '{"reason": "5 failed runs", "failures": 5}')
    assert fire(redis_conn, settings, "INVOICE", TICK)["outcome"] == "paused"
    assert sync_queue(redis_conn, settings).count == 0


def test_only_the_leader_enqueues_and_a_follower_takes_over(
    settings: Settings, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    every_minute = settings.with_overrides(schedules={"PRODUCT": "* * * * *", "CUSTOMER": "", "INVOICE": ""})
    a, b = LeaderCron(redis_conn, every_minute, "a"), LeaderCron(redis_conn, every_minute, "b")
    for cron in (a, b):  # make the tick due now in both processes
        for job in cron.cron.get_jobs():
            job.next_enqueue_time = datetime.now(UTC) - timedelta(seconds=1)
    a.step()
    assert a.leading and not b.lead()
    # a's first step rebased its ticks to the future (a new leader never replays old ticks).
    for job in a.cron.get_jobs():
        job.next_enqueue_time = datetime.now(UTC) - timedelta(seconds=1)
    a.step()
    b.step()
    jobs = sync_queue(redis_conn, settings).jobs
    assert [j.func_name for j in jobs] == ["jobs.tasks.scheduled_sync"] and jobs[0].args == ("PRODUCT",)
    a.release()  # the leader stops (or dies: its lease runs out)
    assert b.lead() and b.leading

    # The tick job on a worker (settings from its environment) starts the run.
    for name, value in {"REDIS_URL": settings.redis_url or "", "SYNC_INSTANCE": settings.key_prefix,
                        "SYNC_HISTORY_DB": settings.history_db}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    SimpleWorker([sync_queue(redis_conn, settings)], connection=redis_conn, serializer=PlainPickleSerializer).work(
        burst=True, max_jobs=1
    )
    assert redis_conn.get(claim_key(settings, "PRODUCT")) is not None
    b.release()


def test_status_reports_every_type(
    settings: Settings, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    Cursors(redis_conn, settings.key_prefix).advance("PRODUCT", TICK)
    PendingEvents(redis_conn, settings.key_prefix, "PRODUCT").add(["variant:1", "variant:2"], 1_000)
    RetrySet(redis_conn, settings.key_prefix, "INVOICE").update([Failure("KTN-SO-9", "order:9", "r1", "X", "m")], [])
    job_id = start_sync(redis_conn, settings, RunRequest("CUSTOMER"))
    history = open_history(settings)
    history.start_run("r-old", "PRODUCT", {}, False, "api", "full")
    history.finish_run("r-old", "finished", {"total": 3, "created": 3}, cursor_after="2026-12-03T22:10:00.000Z")
    history.close()
    client = make_app(settings).test_client()
    assert client.get("/api/sync/status").status_code == 401
    body = client.get("/api/sync/status", headers=AUTH).json
    by_type = {t["syncType"]: t for t in body["types"]}
    product = by_type["PRODUCT"]
    assert product["cursor"] == "2026-12-03T22:10:00.000Z"
    assert product["pendingEvents"] == 2 and product["oldestPendingSeconds"] > 1000
    assert product["lastRun"]["runId"] == "r-old" and product["lastRun"]["counts"]["created"] == 3
    assert product["schedule"] == "*/10 * * * *" and product["nextRun"] > body["at"]
    assert by_type["INVOICE"]["retrySet"] == 1 and by_type["CUSTOMER"]["current"] == job_id
    assert by_type["CUSTOMER"]["cursor"] is None and by_type["CUSTOMER"]["paused"] is False
