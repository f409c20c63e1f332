"""The domain's value types: what a run is asked to do, what it plans, and how each item ends.

No I/O here. :class:`RunRequest` is the one description of a requested run: the API and the CLI
build it, :func:`jobs.enqueue.start_sync` sends it as the job's only argument (``to_job()``, a
plain dict of JSON values, never a secret) and the worker parses it back (``from_job()``),
validating again because anything that reaches Redis can enqueue.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from syncsvc.domain.checks import show_json as _show
from syncsvc.domain.synctypes import SYNC_TYPE_NAMES

OUTCOMES = ("created", "updated", "adopted", "skipped", "gone", "failed")
"""Every item of a run ends with exactly one of these. ``gone``: deleted or archived in Katana;
reported, never deleted in Luca."""
RUN_STATUSES = ("running", "retrying", "finished", "failed", "skipped")
"""``retrying``: the last execution failed (or its worker died) and another one is due.
``skipped``: a scheduled run found its type already queued or running and did not start."""
PHASES = (
    "queued", "warming", "fetching", "ensuring customers", "ensuring stockCards", "syncing",
    "reading Luca", "comparing",  # reconciliation jobs (jobs/reconcile.py)
    "done", "failed",
)  # fmt: skip
"""What a running job reports in ``progress.phase``, in the order a run passes them."""
MODES = ("full", "incremental", "drain")
"""What a run reads (jobs/scope.py). Callers choose full or incremental (omitted: incremental
when the type has a cursor, else full); ``drain`` runs are started by webhooks."""
TRIGGERS = ("api", "schedule", "webhook", "retry", "dashboard", "cli", "direct", "recovery")
"""What started a run: recorded with it in the history."""


def iso_utc(moment: datetime) -> str:
    """``2026-12-03T21:12:09.123Z``: the one timestamp format of the API, history and logs.
    Naive datetimes are taken as UTC (RQ stores naive UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utcnow() -> str:
    """Now, as :func:`iso_utc` formats it."""
    return iso_utc(datetime.now(UTC))


class InvalidRequest(ValueError):
    """A run request is malformed; the message is one line naming the field and what is allowed."""


@dataclass(frozen=True)
class RunRequest:
    """One requested run. Construct it with :meth:`parse` (from untrusted JSON) or directly from
    trusted code; either way ``__post_init__`` validates every field."""

    sync_type: str
    limit: int | None = None
    dry_run: bool = False
    trigger: str = "api"
    # None = incremental when the type has a cursor, else full (start_sync decides at enqueue).
    mode: str | None = None
    # A targeted run of these records only: Katana refs (``variant:5``, ``order:9``) or keys of
    # failed items in the retry set (jobs/scope.py).
    keys: tuple[str, ...] | None = None
    # The run whose failed items this run retries (the history links both ways).
    parent_run_id: str | None = None

    # JSON field name -> attribute. New fields (parentRunId) go here and in the class.
    FIELDS = {"syncType": "sync_type", "limit": "limit", "dryRun": "dry_run", "trigger": "trigger", "mode": "mode",
              "keys": "keys", "parentRunId": "parent_run_id"}  # fmt: skip
    MAX_KEYS = 1000

    def __post_init__(self) -> None:
        if not isinstance(self.sync_type, str) or self.sync_type not in SYNC_TYPE_NAMES:
            raise InvalidRequest(f"syncType must be one of {', '.join(SYNC_TYPE_NAMES)}, got {_show(self.sync_type)}")
        limit = self.limit
        # bool is an int subclass in Python: true must not mean limit=1.
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise InvalidRequest(f"limit must be a positive integer (or omitted for all items), got {_show(limit)}")
        if not isinstance(self.dry_run, bool):
            raise InvalidRequest(f"dryRun must be true or false, got {_show(self.dry_run)}")
        if not isinstance(self.trigger, str) or self.trigger not in TRIGGERS:
            raise InvalidRequest(f"trigger must be one of {', '.join(TRIGGERS)}, got {_show(self.trigger)}")
        if self.mode is not None and (not isinstance(self.mode, str) or self.mode not in MODES):
            raise InvalidRequest(f"mode must be one of full, incremental (or omitted), got {_show(self.mode)}")
        keys = self.keys
        if keys is not None:
            if isinstance(keys, list):
                object.__setattr__(self, "keys", keys := tuple(keys))
            if (
                not isinstance(keys, tuple) or not keys or len(keys) > self.MAX_KEYS
                or not all(isinstance(k, str) and 0 < len(k) <= 200 for k in keys)
            ):  # fmt: skip
                raise InvalidRequest(
                    f"keys must be a list of 1 to {self.MAX_KEYS} item keys or Katana refs (variant:ID), "
                    f"got {_show(keys)}"
                )
        parent = self.parent_run_id
        if parent is not None and (not isinstance(parent, str) or not 0 < len(parent) <= 128):
            raise InvalidRequest(f"parentRunId must be a run id, got {_show(parent)}")

    def to_job(self) -> dict[str, Any]:
        """The job argument: JSON-compatible values only (any RQ serializer carries them)."""
        out = {name: getattr(self, attr) for name, attr in self.FIELDS.items()}
        out["keys"] = list(self.keys) if self.keys is not None else None
        if self.parent_run_id is None:
            del out["parentRunId"]  # absent rather than null: the usual job carries no parent
        return out

    @classmethod
    def from_job(cls, data: Any) -> RunRequest:
        """Parse a job argument back, validating it again.

        Raises:
            InvalidRequest: not an object, an unknown field, or a bad value.
        """
        if not isinstance(data, Mapping):
            raise InvalidRequest(f"a run request must be an object, got {type(data).__name__}")
        unknown = sorted(str(k) for k in data if k not in cls.FIELDS)
        if unknown:
            raise InvalidRequest(f"unknown field(s) {', '.join(unknown)}; allowed fields: {', '.join(cls.FIELDS)}")
        if "syncType" not in data:
            raise InvalidRequest(f"syncType is required; allowed values: {', '.join(SYNC_TYPE_NAMES)}")
        return cls(**{attr: data[name] for name, attr in cls.FIELDS.items() if name in data})

    @property
    def description(self) -> str:
        """What RQ tools show for the job (``PRODUCT sync (dry run)``)."""
        notes = [n for n in (
            "incremental" if self.mode == "incremental" else "",
            "webhook drain" if self.mode == "drain" else "",
            f"{len(self.keys)} record(s)" if self.keys else "",
            "dry run" if self.dry_run else "",
        ) if n]  # fmt: skip
        return f"{self.sync_type} sync" + (f" ({', '.join(notes)})" if notes else "")


@dataclass(frozen=True, slots=True)
class Plan:
    """One Luca record to make true: its natural key, the payload and the payload's digest.

    The payload is held as compact JSON (a third of the size of the dict) because a run keeps
    every plan until its item is done; it is decoded once, when sent. The digest is over those
    exact bytes: what WE send, never what Luca echoes.
    """

    key: str
    body: bytes
    digest: str
    source_id: int | None = None
    label: str = ""
    # Invoice plans: what must exist first (cari code, stock card codes).
    needs_customer: str | None = None
    needs_cards: tuple[str, ...] = ()

    @classmethod
    def of(cls, key: str, payload: Mapping[str, Any], **extra: Any) -> Plan:
        body = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        encoded = body.encode("utf-8")
        return cls(key, encoded, hashlib.sha256(encoded).hexdigest()[:32], **extra)

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass(frozen=True)
class ItemRecord:
    """The outcome of one item of a run."""

    item_key: str
    outcome: str
    kind: str = ""
    luca_id: int | None = None
    attempts: int = 0
    error_class: str | None = None
    message: str | None = None
    finished_at: str = ""
    katana_id: int | None = None
    # What a person recognises: product name, customer name or order number.
    label: str | None = None
    # Dry runs: JSON {"field": [old, new]} of what a real run would write.
    diff: str | None = None
