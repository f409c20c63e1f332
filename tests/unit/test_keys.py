"""Every Redis key is declared once (syncsvc/keys.py): no module builds one with an f-string."""

from __future__ import annotations

import re
from pathlib import Path

from syncsvc.keys import Keys

ROOT = Path(__file__).resolve().parents[2]


def test_keys_carry_the_prefix_and_the_documented_shape() -> None:
    keys = Keys("tenant-a")
    assert keys.cache("stockcard") == "tenant-a:luca:stockcard"
    assert keys.cache_meta("stockcard") == "tenant-a:luca:stockcard:meta"
    assert keys.run_lock("PRODUCT") == "tenant-a:lock:run:PRODUCT"
    assert keys.start_claim("INVOICE") == "tenant-a:claim:INVOICE"
    readme = (ROOT / "README.md").read_text()
    for documented in ("sync:luca:stockcard", "sync:luca:stockcard:meta", "sync:lock:run:TYPE"):
        assert documented in readme


def test_no_module_builds_a_prefixed_key_itself() -> None:
    pattern = re.compile(r"""f["']\{(self\.)?(prefix|key_prefix|settings\.key_prefix)\}:|redis_key\(""")
    offenders = [
        str(path.relative_to(ROOT))
        for top in ("syncsvc", "jobs")
        for path in (ROOT / top).rglob("*.py")
        if path.name not in ("keys.py", "settings.py") and pattern.search(path.read_text())
    ]
    assert offenders == []
