"""The benchmark harness must not rot: its cheapest scenario runs end to end on tiny sizes.

A benchmark is not a test, so nothing here asserts a timing; only that a row comes out."""

from __future__ import annotations

import pytest

from bench.__main__ import main


@pytest.mark.timeout(60)
def test_quick_cold_sync_prints_a_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--only", "cold"]) == 0
    out = capsys.readouterr().out
    assert "| 1 cold product sync" in out
    assert "created" in out


@pytest.mark.timeout(120)
def test_quick_history_cost_prints_both_backends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--only", "history"]) == 0
    out = capsys.readouterr().out
    for backend in ("SQLite", "PostgreSQL"):
        assert f"| 8 history writes alone: {backend}" in out
    assert "| 8 cold sync at 0 ms, history on SQLite" in out
