"""Failed items across runs: what still fails, grouped by reason, and operator resolutions.

An item "still fails" when its latest record in a real (not dry) run is ``failed`` and no later
real run handled the same Katana record (same key, or same kind and Katana id: a variant that
failed as ``variant:12`` for lack of a SKU syncs later under its new code). A resolution
(:func:`resolve`) takes an item off the list until a later run fails it again.
"""

from __future__ import annotations

import re
from typing import Any

from syncsvc.domain.model import utcnow
from syncsvc.store.history import History

_LATER = """
    SELECT 1 FROM run_items j JOIN runs r2 ON r2.run_id = j.run_id
    WHERE r2.sync_type = r.sync_type AND r2.dry_run = 0 AND j.finished_at > i.finished_at
      AND (j.item_key = i.item_key OR (i.katana_id IS NOT NULL AND j.kind = i.kind AND j.katana_id = i.katana_id))
"""
_RESOLVED = """
    SELECT 1 FROM resolutions s WHERE s.sync_type = r.sync_type AND s.item_key = i.item_key
      AND s.resolved_at >= i.finished_at
"""
_CURRENT = f"""
    FROM run_items i JOIN runs r ON r.run_id = i.run_id
    WHERE i.outcome = 'failed' AND r.dry_run = 0 AND NOT EXISTS ({_LATER})
"""

ADVICE = {
    "MappingError": "The Katana record can't become a Luca record: fix it in Katana as the reason says, "
    "then retry the failed items of its run.",
    "ConflictError": "Several Katana SKUs become the same Luca code: make the SKUs distinct in Katana, then retry.",
    "BusinessError": "Luca refused the record: correct the field the reason names (in Katana, or the mapping "
    "settings such as SYNC_UNIT_MAP), then retry.",
    "TransientError": "Katana or Luca did not answer in time: nothing needs fixing if they are back; retry.",
    "ReplyTimeout": "Luca did not answer in time; the retry looks the record up first, so it is safe: retry.",
    "SessionLost": "Luca's session broke mid-request; check Luca's login settings if it repeats, then retry.",
    "RunAborted": "The run stopped before this item (see the run's error); fix that cause, then retry.",
}
DEFAULT_ADVICE = "Read the reason; fix the record or the setting it names, then retry the failed items."


def reason_pattern(message: str | None) -> str:
    """The message with its particulars (quoted values, numbers) blanked, so items failing for the
    same reason group together: ``variant 12 has no SKU`` and ``variant 31 ...`` are one group."""
    text = message or "(no message)"
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "…", text)
    return re.sub(r"\d+", "#", text)


def current_failures(history: History, sync_type: str | None = None, limit: int = 5000) -> list[dict[str, Any]]:
    """Items that still fail (newest first), each with its run's type and resolution if any."""
    sql = f"SELECT i.*, r.sync_type {_CURRENT}"
    args: list[Any] = []
    if sync_type:
        sql += " AND r.sync_type = ?"
        args.append(sync_type)
    sql += " ORDER BY i.finished_at DESC LIMIT ?"
    with history.session() as s:
        rows = s.query(sql, [*args, limit])
    resolved = resolutions(history)
    for row in rows:
        res = resolved.get((row["sync_type"], row["item_key"]))
        row["resolution"] = res if res and res["resolved_at"] >= (row["finished_at"] or "") else None
    return rows


def grouped(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unresolved failures grouped by (type, error class, reason pattern), biggest group first."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        if row["resolution"] is not None:
            continue
        cls = row.get("error_class") or "Error"
        key = (row["sync_type"], cls, reason_pattern(row.get("message")))
        group = groups.setdefault(
            key,
            {
                "syncType": key[0],
                "errorClass": cls,
                "reason": key[2],
                "advice": ADVICE.get(cls, DEFAULT_ADVICE),
                "items": [],
                "runIds": [],
            },
        )
        group["items"].append(row)
        if row["run_id"] not in group["runIds"]:
            group["runIds"].append(row["run_id"])
    return sorted(groups.values(), key=lambda g: (-len(g["items"]), g["syncType"], g["reason"]))


def failed_keys(history: History, run_id: str) -> list[str]:
    """The keys of a run's failed items that still fail and are not resolved (what a retry re-runs)."""
    sql = f"SELECT i.item_key, r.sync_type, i.finished_at {_CURRENT} AND i.run_id = ? AND NOT EXISTS ({_RESOLVED})"
    with history.session() as s:
        return sorted(row["item_key"] for row in s.query(sql, [run_id]))


def resolve(history: History, sync_type: str, item_key: str, reason: str, run_id: str | None) -> dict[str, Any]:
    row = {
        "sync_type": sync_type,
        "item_key": item_key,
        "reason": reason,
        "resolved_at": utcnow(),
        "run_id": run_id,
    }
    with history.session(write=True) as s:
        s.upsert("resolutions", [row], ("sync_type", "item_key"))
    return row


def resolutions(history: History) -> dict[tuple[str, str], dict[str, Any]]:
    with history.session() as s:
        rows = s.rows("resolutions")
    return {(r["sync_type"], r["item_key"]): r for r in rows}


def children(history: History, run_id: str) -> list[dict[str, Any]]:
    """Runs started to retry this one's failures."""
    with history.session() as s:
        return s.rows("runs", "parent_run_id = ?", [run_id], order_by="started_at")


def has_item(history: History, run_id: str, key: str) -> bool:
    with history.session() as s:
        return s.count("run_items", "run_id = ? AND item_key = ?", [run_id, key]) > 0
