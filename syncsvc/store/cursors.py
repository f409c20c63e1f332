"""Per sync type, the Katana ``updated_at`` watermark incremental runs read from.

``{prefix}:cursor:<TYPE>`` holds an ISO-8601 UTC instant in Katana's clock. It only moves
forward (a Lua compare-and-set), and only :func:`jobs.run.run_sync` moves it: after every item up
to it has been written to Luca and recorded in the history (failures included: those are in the
retry set by then), so a crash at any point leaves it where the last complete run put it. The
history keeps each run's cursor before and after as well, so a lost Redis can be re-seeded
from it (:meth:`Cursors.seed`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from syncsvc.domain.model import iso_utc
from syncsvc.keys import Keys, as_str

_ADVANCE = """
local current = redis.call('GET', KEYS[1])
if current and current >= ARGV[1] then return current end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
"""


def iso(moment: datetime) -> str:
    """One fixed shape (``2026-12-03T21:12:09.123Z``), so string order is time order."""
    return iso_utc(moment)


def parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Cursors:
    def __init__(self, conn: redis.Redis, prefix: str) -> None:
        self.conn = conn
        self.prefix = prefix

    def key(self, sync_type: str) -> str:
        return Keys(self.prefix).cursor(sync_type)

    def get(self, sync_type: str) -> datetime | None:
        raw = self.conn.get(self.key(sync_type))
        return parse(as_str(raw)) if raw is not None else None

    def advance(self, sync_type: str, to: datetime) -> datetime:
        """Move the cursor to ``to`` unless it is already there or beyond; returns the cursor."""
        result = self.conn.eval(_ADVANCE, 1, self.key(sync_type), iso(to))
        moved = parse(as_str(result))
        assert moved is not None
        return moved

    def seed(self, sync_type: str, value: datetime | None) -> None:
        """Put back a cursor recovered from the history when Redis lost it (never moves it back)."""
        if value is not None:
            self.advance(sync_type, value)

    def clear(self, sync_type: str) -> None:
        """Forget the cursor: the next run without an explicit mode is a full run."""
        self.conn.delete(self.key(sync_type))
