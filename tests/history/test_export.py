"""`syncsvc history export --to postgresql://...` on a history written by real runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.testing import Sandbox
from syncsvc.store.history import open_history
from tests.integration.engine_helpers import engine_settings, run

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, history_db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNC_HISTORY_DB": str(history_db), "COLUMNS": "100"}
    argv = [sys.executable, "-m", "syncsvc", "history", *args]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def snapshot(target: str) -> dict[str, list[dict[str, object]]]:
    h = open_history(target)
    try:
        runs, _ = h.list_runs(limit=1000)
        return {r["run_id"]: [r, h.list_items(r["run_id"], limit=100_000)[0]] for r in runs}  # type: ignore[misc]
    finally:
        h.close()


@pytest.fixture
def real_history(sandbox: Sandbox, redis_url: str, tmp_path: Path) -> Path:
    """A demo-like history: real runs of every type against the simulators (some items fail)."""
    settings = engine_settings(sandbox, redis_url, tmp_path)
    for sync_type in ("PRODUCT", "CUSTOMER", "INVOICE", "PRODUCT"):
        run(settings, sync_type, limit=120)
    run(settings, "INVOICE", limit=10, dry_run=True)
    return Path(settings.history_db)


def test_export_copies_every_run_and_item_and_is_idempotent(real_history: Path, pg_url: str) -> None:
    before = snapshot(str(real_history))
    assert len(before) == 5 and sum(len(items) for _, items in before.values()) > 250
    first = cli("export", "--to", pg_url, history_db=real_history)
    assert first.returncode == 0, first.stderr
    assert "runs" in first.stdout and "items" in first.stdout  # the progress bars
    assert f"Copied 5 runs and {sum(len(i) for _, i in before.values())} items" in first.stdout
    assert snapshot(pg_url) == before
    again = cli("export", "--to", pg_url, history_db=real_history)  # interrupted or repeated: same result
    assert again.returncode == 0, again.stderr
    assert snapshot(pg_url) == before


def test_export_errors_are_one_line(real_history: Path, tmp_path: Path) -> None:
    cases = [
        (["--to", "mysql://root:pw@host/db"], "--to must be a postgresql:// URL"),
        (["--to", "postgresql://sync:s3cret@127.0.0.1:9/history"], "127.0.0.1:9/history unreachable"),
        (["--to", "postgresql://postgres@127.0.0.1:notaport/x"], "unreachable"),
        (["--to", "postgresql://postgres@127.0.0.1:5432/x", "--from", str(tmp_path / "none.db")], "no SQLite history"),
    ]
    for args, message in cases:
        out = cli("export", *args, history_db=real_history)
        assert out.returncode == 1 and message in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
        assert "s3cret" not in out.stderr + out.stdout
    assert not (tmp_path / "none.db").exists()


def test_prune_from_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    h = open_history(str(db))
    h.start_run("old", "PRODUCT", {}, False)
    h.finish_run("old", "finished", {})
    with h.session(write=True) as s:
        s.update("runs", {"run_id": "old"}, {"finished_at": "2020-01-01T00:00:00.000Z"})
    h.close()
    out = cli("prune", history_db=db)
    assert out.returncode == 1 and "set --keep-days or SYNC_HISTORY_KEEP_DAYS" in out.stderr
    out = cli("prune", "--keep-days", "30", history_db=db)
    assert out.returncode == 0 and "Pruned 1 runs older than 30 days" in out.stdout, out.stderr
