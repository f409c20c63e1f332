"""docs/architecture.md stays true: every file it names exists, and every `file.py: function()` hop
of the request path is defined in that file."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()


def test_every_named_file_exists() -> None:
    named = set(re.findall(r"`((?:syncsvc|jobs|tests)/[\w/]+\.py)", DOC))
    assert len(named) > 15
    assert [path for path in sorted(named) if not (ROOT / path).exists()] == []


def test_every_hop_names_a_function_defined_in_its_file() -> None:
    hops = re.findall(r"`((?:syncsvc|jobs)/[\w/]+\.py): ([\w.]+)\(\)", DOC)
    assert len(hops) > 15
    missing = []
    for path, dotted in hops:
        source = (ROOT / path).read_text()
        for name in dotted.split("."):
            if not re.search(rf"^\s*(?:def|class) {re.escape(name)}\b", source, re.M):
                missing.append(f"{path}: {name}")
    assert missing == []
