"""A real run writes its history on either backend, and prunes old runs when it ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.testing import Sandbox
from syncsvc.store.history import ItemRecord, open_history
from tests.integration.engine_helpers import assert_accounted, engine_settings, run


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest) -> str | None:
    return str(request.getfixturevalue("pg_url")) if request.param == "postgresql" else None


def test_a_run_records_every_item_and_prunes_old_runs(
    sandbox: Sandbox, redis_url: str, tmp_path: Path, history_url: str | None
) -> None:
    settings = engine_settings(sandbox, redis_url, tmp_path, history_url=history_url, history_keep_days=30)
    history = open_history(settings)
    history.start_run("last-year", "PRODUCT", {}, False)
    history.record_items("last-year", [ItemRecord("A", "created")])
    history.finish_run("last-year", "finished", {"total": 1, "created": 1})
    with history.session(write=True) as s:
        s.update("runs", {"run_id": "last-year"}, {"started_at": "2025-01-01T00:00:00.000Z",
                                                   "finished_at": "2025-01-01T00:01:00.000Z"})  # fmt: skip
    summary = run(settings, "CUSTOMER", limit=15)
    assert_accounted(settings, summary)
    try:
        assert history.get_run("last-year") is None and history.list_items("last-year") == ([], 0)
        runs, total = history.list_runs()
        assert total == 1 and runs[0]["run_id"] == summary["runId"] and runs[0]["total"] == summary["total"] > 0
    finally:
        history.close()


def test_an_unreachable_history_fails_the_run_retryably_and_frees_its_lock(
    sandbox: Sandbox, redis_url: str, tmp_path: Path
) -> None:
    from syncsvc.domain.errors import HistoryUnavailable, retry_run

    down = engine_settings(sandbox, redis_url, tmp_path, history_url="postgresql://sync:pw@127.0.0.1:9/history")
    with pytest.raises(HistoryUnavailable, match="127.0.0.1:9/history unreachable") as caught:
        run(down, "CUSTOMER", limit=5)
    assert retry_run(caught.value)  # RQ tries the job again later
    summary = run(engine_settings(sandbox, redis_url, tmp_path), "CUSTOMER", limit=5)  # the lock was released
    assert summary["total"] == 5
