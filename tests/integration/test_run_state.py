"""One truthful state story for a run across executions (issue #10 defect 5): the history row keeps
the run's first start, shows live counts while it runs, says ``retrying`` (never ``failed``) while
another execution is due, and the job's state log keeps every execution with its attempt."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from jobs.enqueue import log_state, read_state_log, start_sync
from syncsvc.domain.model import ItemRecord, RunRequest
from syncsvc.store.history import open_history
from syncsvc.web.job_view import describe_job, fetch_job
from tests.service_fixtures import FAKE_JOB, make_settings


def test_history_row_across_two_executions(tmp_path: Path) -> None:
    history = open_history(str(tmp_path / "h.db"))
    history.start_run("r1", "PRODUCT", {"limit": None}, False)
    first_start = history.get_run("r1")["started_at"]  # type: ignore[index]
    history.record_items("r1", [ItemRecord("A", "created"), ItemRecord("B", "skipped")])
    history.record_batch("r1", [], {"total": 5, "created": 1, "skipped": 1})
    live = history.list_runs(status="running")[0][0]
    assert (live["total"], live["created"], live["skipped"]) == (5, 1, 1)

    history.interrupt_run("r1", "retrying", {"total": 2, "created": 1, "skipped": 1}, "Unavailable: Luca down")
    waiting = history.get_run("r1")
    assert waiting is not None and waiting["status"] == "retrying" and waiting["finished_at"] is None
    assert history.list_runs(status="failed")[1] == 0

    time.sleep(0.01)
    history.start_run("r1", "PRODUCT", {"limit": None}, False)  # the next execution
    again = history.get_run("r1")
    assert again is not None and again["status"] == "running" and again["started_at"] == first_start
    assert again["error"] is None  # running again; the failure stays in the job's state log
    history.finish_run("r1", "finished", {"total": 5, "created": 4, "skipped": 1})
    done = history.get_run("r1")
    assert done is not None and done["status"] == "finished" and done["error"] is None
    assert done["started_at"] == first_start
    history.close()


def test_job_history_has_each_execution_with_its_attempt_and_reason(
    redis_conn: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(redis_url, tmp_path)
    job_id = start_sync(redis_conn, settings, RunRequest("PRODUCT"), FAKE_JOB)
    for attempt, outcome, reason in ((1, "FAILED_WILL_RETRY", "Unavailable: Katana 503"),
                                     (2, "ABANDONED", "AbandonedRun: the worker running it died")):  # fmt: skip
        log_state(redis_conn, settings, job_id, "STARTED", attempt)
        log_state(redis_conn, settings, job_id, outcome, attempt, reason)
    redis_conn.hset(f"rq:job:{job_id}", "status", "scheduled")  # waiting for attempt 3
    job = fetch_job(redis_conn, settings, job_id)
    assert job is not None
    body = describe_job(redis_conn, settings, job)
    assert body["state"] == "SCHEDULED" and body["error"] == "AbandonedRun: the worker running it died"
    assert body["history"][-1] == {"stateName": "SCHEDULED", "createdAt": None}

    log_state(redis_conn, settings, job_id, "STARTED", 3)
    log_state(redis_conn, settings, job_id, "FINISHED", 3)
    log = read_state_log(redis_conn, settings, job_id)
    assert [(e["stateName"], e.get("attempt")) for e in log] == [
        ("QUEUED", None), ("STARTED", 1), ("FAILED_WILL_RETRY", 1), ("STARTED", 2), ("ABANDONED", 2),
        ("STARTED", 3), ("FINISHED", 3),
    ]  # fmt: skip
    assert log[2]["reason"] == "Unavailable: Katana 503"
