"""One row per scenario and the Markdown table they make."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    scenario: str
    items: int
    wall_s: float
    ideal_s: float | None = None
    luca: int | None = None
    katana: int | None = None
    katana_429: int | None = None
    peak_rss: int | None = None  # bytes
    cpu_s: float | None = None
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        return self.wall_s / self.ideal_s if self.ideal_s else None


HEADER = ("scenario", "items", "wall s", "ideal s", "ratio", "Luca req", "Katana req", "429s", "worker RSS MB",
          "CPU s", "notes")  # fmt: skip


def _fmt(value: float | int | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def cells(row: Row) -> list[str]:
    return [
        row.scenario,
        str(row.items),
        _fmt(row.wall_s, ".2f"),
        _fmt(row.ideal_s, ".2f"),
        _fmt(row.ratio, ".3f"),
        _fmt(row.luca, "d"),
        _fmt(row.katana, "d"),
        _fmt(row.katana_429, "d"),
        _fmt(row.peak_rss / 2**20 if row.peak_rss else None, ".0f"),
        _fmt(row.cpu_s, ".2f"),
        row.notes,
    ]


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    return "\n".join(lines)
