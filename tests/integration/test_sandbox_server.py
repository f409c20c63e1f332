"""The sandbox's WSGI server: both simulators in one process, real TCP behaviour."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox.testing import Sandbox


def test_each_port_serves_its_own_simulator(sandbox_session: Sandbox) -> None:
    assert sandbox_session.katana_url != sandbox_session.luca_url
    assert requests.get(f"{sandbox_session.luca_url}/_admin/state", timeout=5).ok
    assert requests.get(f"{sandbox_session.katana_url}/_admin/stats", timeout=5).ok


def test_keepalive_calls_do_not_wait_on_nagle(sandbox_session: Sandbox) -> None:
    # Two-send responses without TCP_NODELAY cost ~40 ms each (delayed ACK); 50 calls must take
    # far less than 50 x 40 ms.
    session = requests.Session()
    started = time.perf_counter()
    for _ in range(50):
        session.get(f"{sandbox_session.luca_url}/_admin/state", timeout=5)
    assert time.perf_counter() - started < 1.0


def test_help_lists_every_option() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "sandbox", "--help"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    for flag in ("--host", "--katana-port", "--luca-port", "--seed"):
        assert flag in out


@pytest.mark.parametrize("repeat", range(2))
def test_injected_reset_is_a_real_connection_reset(sandbox_session: Sandbox, repeat: int) -> None:
    with pytest.raises(requests.ConnectionError) as info:
        requests.post(f"{sandbox_session.luca_url}/_admin/reset-me", timeout=5)
    assert "reset" in str(info.value).lower()
