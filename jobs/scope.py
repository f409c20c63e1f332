"""What one run reads from Katana, and the cursor it may leave behind.

Modes (``RunRequest.mode``):

* ``full`` reads every live record (the original behaviour);
* ``incremental`` reads ``updated_at_min = cursor - overlap`` with ``include_deleted=true`` and
  ``include_archived=true``, so edits, deletions and archivals all come back (the latter two
  as the ``gone`` outcome, never deleted in Luca);
* ``drain`` reads only the records Katana webhooks named (the pending set, ``ids=``);
* a run given ``keys`` reads only those records (``ids=``): a retry of failed items.

Every run that may change state (not a dry run, no ``limit``) also re-reads by id every record
of the type's retry set (items that failed before) and absorbs the webhook pending set, so a
full or incremental run leaves nothing for a drain to do.

Why the cursor never skips a row (spec §1.10, §4). Katana pages newest-*created* first and
can't sort by ``updated_at``, so an edit made while we page can land on a page we already read;
the naive watermark (the highest ``updated_at`` seen) can then pass it: record A is edited at
t1 onto page 1 (already read), B at t2 > t1 onto page 3, we see B, the cursor becomes t2, and A
is never read again. We argue instead from time:

1. With ``include_deleted`` and ``include_archived`` an ``updated_at_min`` window only grows
   while we page (an edit, deletion or archival moves ``updated_at`` forward and keeps the row
   in the window), and growth only pushes rows down (a row read twice), so every row that was in
   the window when the scan began is read (``KatanaClient.scan(growing=True)`` re-scans if it
   saw fewer than the first page's total, which would mean otherwise).
2. A row that entered the window during the scan was changed at or after the scan began, in
   Katana's clock: ``updated_at >= S``.
3. Every ``updated_at`` we read was already in the past when Katana answered, so the highest
   one, ``H``, is at most the Katana time of our last answer, which is at most ``S`` plus the
   scan's duration ``D`` measured on our own clock (from before the first request to after the
   last answer; only the two clocks' rates must agree, not their settings).
4. So the cursor ``H - D <= S``; the next run reads from ``H - D - overlap`` and catches every
   row of (2). The overlap (``SYNC_INCREMENTAL_OVERLAP_S``) absorbs clock-rate drift and skew
   between Katana's servers. Rows re-read are harmless: digests make their upserts "skipped".

The cursor moves (forward only) after the run's items are written, recorded in the history and
their failures put in the retry set; a run that dies leaves it where it was.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from syncsvc.domain.model import iso_utc

MODES = ("full", "incremental")
"""Modes a caller may ask for; ``drain`` and targeted (``keys``) runs are started internally."""
REF = re.compile(r"^(variant|product|material|service|customer|order):(\d{1,12})$")
"""A Katana record reference: ``<kind>:<id>``."""


def parse_katana_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def split_ref(ref: str) -> tuple[str, int] | None:
    match = REF.match(ref)
    return (match.group(1), int(match.group(2))) if match else None


@dataclass
class Watermark:
    """Measures ``H`` and ``D`` of the module docstring over every Katana read of one run."""

    started: float | None = None
    last: float = 0.0
    high: datetime | None = None

    def begin(self) -> None:
        if self.started is None:
            self.started = time.monotonic()

    def observe(self, records: Iterable[Mapping[str, Any]]) -> None:
        for record in records:
            stamp = parse_katana_time(record.get("updated_at")) if isinstance(record, Mapping) else None
            if stamp is not None and (self.high is None or stamp > self.high):
                self.high = stamp
        self.last = time.monotonic()

    def safe_cursor(self) -> datetime | None:
        """``H - D``, or None when nothing was read (the cursor then stays where it is)."""
        if self.high is None or self.started is None:
            return None
        return self.high - timedelta(seconds=max(0.0, self.last - self.started))


@dataclass
class Scope:
    mode: str  # "full" | "incremental" | "drain" | "keys"
    cursor: datetime | None = None  # the cursor this run started from
    since: datetime | None = None  # updated_at_min actually sent (cursor - overlap)
    refs: set[str] = field(default_factory=set)  # records to read by id
    keeps_state: bool = True  # False for dry runs and limited runs: no cursor, retry set, pending
    watermark: Watermark = field(default_factory=Watermark)

    @property
    def window(self) -> dict[str, str]:
        """Query parameters of an incremental read."""
        assert self.since is not None
        stamp = iso_utc(self.since)
        return {"updated_at_min": stamp, "include_deleted": "true", "include_archived": "true"}

    def refs_of(self, *kinds: str) -> dict[str, set[int]]:
        out: dict[str, set[int]] = {k: set() for k in kinds}
        for ref in self.refs:
            parsed = split_ref(ref)
            if parsed is not None and parsed[0] in out:
                out[parsed[0]].add(parsed[1])
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "cursorBefore": iso_or_none(self.cursor),
            "updatedAtMin": iso_or_none(self.since),
            "refetched": len(self.refs),
        }


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso_utc(moment)


def full_scope() -> Scope:
    """The scope of callers that predate modes (benchmarks, tests): a full read, no state kept."""
    return Scope("full", keeps_state=False)
