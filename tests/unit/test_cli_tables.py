"""CLI tables fit 80 columns (issue #11, item 7): columns dropped by priority, numbers and ids never
cut, long reasons wrapped; failures grouped by reason for `syncsvc status`."""

from __future__ import annotations

import io

from rich.console import Console

from syncsvc.ops.api_client import failure_groups, failure_groups_table, failures_table, summary_table
from syncsvc.ops.tables import Column, fit_table


def render(table: object, width: int = 80) -> str:
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=False, color_system=None).print(table)
    return out.getvalue()


def test_history_like_table_fits_80_columns_and_keeps_every_number() -> None:
    run_id = "9f" * 16
    columns = [
        Column("run", 0, keep_whole=True),
        Column("type", 1, keep_whole=True),
        Column("status", 2),
        Column("started", 9),
        *(Column(n, p, numeric=True) for n, p in (("total", 3), ("created", 5), ("failed", 4), ("skipped", 7))),
    ]
    rows = [[run_id, "CUSTOMER", "finished (dry run)", "2026-12-03T21:40:24.637Z", "123456", "120000", "3456", "0"]]
    text = render(fit_table("Runs", columns, rows, 80))
    assert all(len(line) <= 80 for line in text.splitlines()), text
    for token in (run_id, "CUSTOMER", "123456", "3456"):
        assert token in text, token
    assert "…" not in text and "not shown for width 80" in text and "started" in text.splitlines()[0]


def test_summary_and_failure_tables_fit_when_reasons_are_long() -> None:
    result = {
        "total": 1044, "created": 1000, "updated": 0, "adopted": 0, "skipped": 0, "failed": 44,
        "durationSeconds": 321.5,
        "failures": [{"key": f"SKU-{i:04d}", "errorClass": "BusinessError",
                      "message": "Luca refused the card: Kart kodu daha önce kullanılmış " * 2} for i in range(44)],
    }  # fmt: skip
    rows = [("PRODUCT", {"state": "FINISHED", "result": result})]
    summary = render(summary_table(rows))
    assert all(len(line) <= 80 for line in summary.splitlines()), summary
    for figure in ("1044", "1000", "44", "321.5"):
        assert figure in summary
    failures = render(failures_table(rows))
    assert all(len(line) <= 80 for line in failures.splitlines())
    assert "SKU-0043" in failures


def test_failures_group_by_reason_biggest_first() -> None:
    failures = [{"key": f"K{i}", "errorClass": "BusinessError", "message": "Birim yok"} for i in range(40)]
    failures += [{"key": f"T{i}", "errorClass": "TransientError", "message": "HTTP 502"} for i in range(4)]
    groups = failure_groups(failures)
    assert [(n, e, r) for n, e, r, _ in groups] == [
        (40, "BusinessError", "Birim yok"),
        (4, "TransientError", "HTTP 502"),
    ]
    text = render(failure_groups_table(failures))
    assert "Failures by reason (44 items)" in text and "K0, K1, K2 (+37)" in text
    assert len(text.splitlines()) < 15  # not 278 lines of JSON
