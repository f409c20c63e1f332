"""Figures collected by the reliability scenarios, printed as a table at the end of the run and
written to ``var/reliability-figures.json`` (the source of the numbers in docs/reliability.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROWS: list[dict[str, Any]] = []
OUT = Path(__file__).resolve().parents[2] / "var" / "reliability-figures.json"
COLUMNS = ("scenario", "items", "faults", "kills", "logins", "duplicates", "lost", "seconds")


def record(scenario: str, **figures: Any) -> None:
    ROWS.append({"scenario": scenario, **figures})


def table() -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in ROWS)) for c in COLUMNS}
    line = "  ".join(c.ljust(widths[c]) for c in COLUMNS)
    out = [line, "  ".join("-" * widths[c] for c in COLUMNS)]
    for row in ROWS:
        out.append("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in COLUMNS))
    return "\n".join(out)


def save() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(ROWS, indent=1, sort_keys=True) + "\n")
