"""/readyz means "a sync would work now" (issue #11, items 6 and 9): Katana must accept the key,
Luca the login, the history a real write; each reason names the setting to fix."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sandbox.testing import Sandbox
from syncsvc.domain.errors import HistoryUnavailable
from syncsvc.store.history import open_history
from tests.service_fixtures import http_stub, make_app, make_settings


def _ready(redis_url: str, tmp_path: Path, **overrides: Any) -> tuple[int, dict[str, Any]]:
    app = make_app(make_settings(redis_url, tmp_path, **overrides))
    resp = app.test_client().get("/readyz")
    body: dict[str, Any] = resp.json  # type: ignore[assignment]
    return resp.status_code, body


def _sim(sandbox: Sandbox, **overrides: Any) -> dict[str, Any]:
    return {"katana_base_url": f"{sandbox.katana_url}/v1", "luca_base_url": f"{sandbox.luca_url}/Yetki", **overrides}


def test_ready_when_katana_and_luca_accept_the_credentials(redis_url: str, tmp_path: Path, sandbox: Sandbox) -> None:
    status, body = _ready(redis_url, tmp_path, **_sim(sandbox))
    assert status == 200 and body["ready"] is True, body
    assert body["checks"]["historyDb"]["detail"].startswith("heartbeat row written")
    # Cached: the second probe neither logs in again nor spends Katana quota.
    sessions = [s["sid"] for s in sandbox.admin("luca", "GET", "sessions")]
    status, again = _ready(redis_url, tmp_path, **_sim(sandbox))
    assert status == 200 and "checked" in again["checks"]["luca"]["detail"]
    assert [s["sid"] for s in sandbox.admin("luca", "GET", "sessions")] == sessions


def test_katana_401_is_not_ready_and_names_the_key(redis_url: str, tmp_path: Path, sandbox: Sandbox) -> None:
    status, body = _ready(redis_url, tmp_path, **_sim(sandbox, katana_api_key="wrong-key-123"))
    assert status == 503 and body["checks"]["katana"]["ok"] is False
    assert "Katana refused KATANA_API_KEY" in body["checks"]["katana"]["detail"]
    assert "wrong-key-123" not in str(body)


def test_wrong_luca_password_is_not_ready(redis_url: str, tmp_path: Path, sandbox: Sandbox) -> None:
    status, body = _ready(redis_url, tmp_path, **_sim(sandbox, luca_password="not-the-password"))
    assert status == 503 and "LUCA_PASSWORD" in body["checks"]["luca"]["detail"]
    assert "not-the-password" not in str(body)


def test_paths_that_are_not_the_apis_are_not_ready(redis_url: str, tmp_path: Path) -> None:
    with http_stub(404) as katana, http_stub(404) as luca:
        status, body = _ready(redis_url, tmp_path, katana_base_url=katana, luca_base_url=luca)
    assert status == 503
    assert "KATANA_BASE_URL" in body["checks"]["katana"]["detail"] and "/v1" in body["checks"]["katana"]["detail"]
    assert "LUCA_BASE_URL" in body["checks"]["luca"]["detail"]


@contextmanager
def unwritable(*paths: Path) -> Iterator[None]:
    """Immutable (chattr +i) as in the issue's measurement; chmod where that is not permitted
    (not root), which blocks writes for everyone but root."""
    immutable = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True).returncode == 0
    modes = {p: p.stat().st_mode for p in paths}
    if not immutable:
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
        for p, mode in modes.items():
            p.chmod(mode)


def _writes_blocked(directory: Path) -> bool:
    try:
        (directory / "probe").write_text("x")
    except OSError:
        return True
    (directory / "probe").unlink()
    return False


def test_unwritable_history_is_not_ready_and_runs_refuse_cleanly(redis_url: str, tmp_path: Path) -> None:
    db = tmp_path / "hist" / "history.db"
    open_history(str(db)).close()
    files = [p for p in db.parent.iterdir()] + [db.parent]
    with unwritable(*files):
        assert _writes_blocked(db.parent), "this machine can't make a file unwritable"
        status, body = _ready(redis_url, tmp_path, history_db=str(db))
        assert status == 503 and body["checks"]["historyDb"]["ok"] is False
        detail = body["checks"]["historyDb"]["detail"]
        assert "SYNC_HISTORY_DB" in detail and "\n" not in detail
        with pytest.raises(HistoryUnavailable, match="run history not writable"):
            open_history(str(db))
    assert open_history(str(db)).check(2.0)["schemaVersion"] >= 1


def test_locked_history_is_not_ready(redis_url: str, tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    open_history(str(db)).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        status, body = _ready(redis_url, tmp_path, history_db=str(db))
        assert status == 503 and "locked" in body["checks"]["historyDb"]["detail"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert os.path.exists(db)
