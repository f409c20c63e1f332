"""Browser tests: headless Debian Chromium driven by Playwright, against the whole service.

One browser for the session (launching Chromium costs about a second), one service stack (gunicorn
+ a real ``rq worker sync`` running the real jobs against the simulators) per module. Playwright's
own browser download is not reachable on our machines, so the browser is Debian's ``chromium``
(``SYNC_CHROMIUM`` overrides the path). Without it the suite is left out with one line at the end
of the run, and with ``CI=true`` it fails instead: CI installs it (``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, Page, sync_playwright

from sandbox.testing import Sandbox
from syncsvc.net import free_port
from tests import conftest as root
from tests.e2e.conftest import Stack, running_stack, stack_env
from tests.redisdb import wipe

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
HERE = Path(__file__).resolve().parent
_MISSING = pytest.StashKey[str]()
# Small, fixed data: the flows below need a few items of each kind, and a fast suite.
KATANA_DATA = {"seed": 7, "products": 12, "customers": 4, "orders": 4, "variants_per_product": "1-2"}
# Slow enough that a run's live progress can be watched, fast enough to keep the suite quick.
LUCA_LATENCY = {"latency_ms": 60}


def chromium_path() -> str | None:
    configured = os.environ.get("SYNC_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a browser (and not in CI) the whole browser suite is left out, said in one line."""
    if chromium_path() is not None or os.environ.get("CI", "").lower() == "true":
        return
    left_out = [i for i in items if HERE in i.path.resolve().parents]
    if left_out:
        items[:] = [i for i in items if HERE not in i.path.resolve().parents]
        config.hook.pytest_deselected(items=left_out)
        config.stash[_MISSING] = (
            f"browser tests: {len(left_out)} not run: Debian's chromium is missing (apt-get install chromium)"
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    missing = config.stash.get(_MISSING, None)
    if missing:
        terminalreporter.write_line(missing)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        # Only reached with CI=true (otherwise the suite was left out at collection): fail.
        pytest.fail("browser tests need Debian's chromium (apt-get install chromium); CI=true", pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def console_stack(sandbox_session: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The real service (real jobs) on the test Redis database and the simulators."""
    assert root._TEST_REDIS is not None
    url = root._TEST_REDIS.url
    conn = redis.Redis.from_url(url)
    wipe(conn)
    sandbox_session.reset(katana=KATANA_DATA, luca=LUCA_LATENCY)
    tmp = tmp_path_factory.mktemp("console")
    port = free_port()
    env = stack_env(url, tmp, sandbox_session.katana_url, sandbox_session.luca_url, port)
    for test_hook in ("SYNCSVC_JOB_FUNCTION", "SYNC_PRELOAD"):  # the real jobs
        env.pop(test_hook)
    env.pop("SYNC_KEY_PREFIX")  # the default deployment: its queue is `sync`, as the pages say
    try:
        with running_stack(env, port, tmp / "logs") as running:
            yield running
    finally:
        wipe(conn)
        conn.close()


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under var/screenshots/ (the README's come from here)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
