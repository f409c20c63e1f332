"""Reconciliation: compare Katana with Luca for one sync type, read-only, and queue the fix.

What it reports (``GET /api/reconcile/<id>``, the console's reconciliation page, ``syncsvc
reconcile TYPE``):

* ``missingInLuca``: Katana records whose Luca record does not exist (deleted in Luca, or never
  synced);
* ``notInKatana``: Luca records carrying our codes that no Katana record maps to any more. "Ours"
  means: a stock card our cache knows (we created or adopted it), a cari code with the
  ``SYNC_CUSTOMER_CODE_TEMPLATE`` prefix, an invoice with the ``SYNC_INVOICE_TRACKING_PREFIX``;
* ``drifted``: records in both whose fields differ from what a sync would write (name, prices,
  VAT, unit for stock cards; name for cari; for invoices the totals their lines add up to);
* ``staleCache``: cache entries pointing at Luca records that no longer exist.

The Katana side is mapped by the sync's own prepare step, so "what a sync would write" is exactly
that. The cache is read *before* that step, whose warm-up replaces it with Luca's list.
The fix is a targeted sync of the missing and drifted keys; the drifted keys' cached digests are
spoiled first, or the sync would trust the cache and skip them. Luca has no cari update and posted
invoices are never rewritten, so for CUSTOMER and INVOICE only missing records are fixable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import redis

from jobs.control import RunControl
from jobs.enqueue import FAILURE_TTL_S, JOB_FUNCTION, new_job_id, start_sync, sync_queue
from jobs.run import build_context, prepare_of
from syncsvc.domain.drift import drift
from syncsvc.domain.model import RunRequest, utcnow
from syncsvc.domain.synctypes import sync_type as registered
from syncsvc.keys import Keys, as_str
from syncsvc.settings import Settings
from syncsvc.store.cache import IdCache

log = logging.getLogger(__name__)

RECONCILE_FUNCTION = "jobs.tasks.run_reconcile_job"
RESULT_TTL_S = 7 * 24 * 3600
"""A reconciliation report stays readable for a week."""
MAX_LISTED = 500
"""Each list in the report is cut to this many entries (the counts are complete)."""
RECENT = 20
FIXABLE_DRIFT = {"PRODUCT"}


def recent_key(settings: Settings) -> str:
    return Keys(settings.key_prefix).recent_reconciliations()


def start_reconcile(conn: redis.Redis, settings: Settings, sync_type: str) -> str:
    """Queue a reconciliation job; returns its id (also the report's id)."""
    RunRequest(sync_type)  # validates the type
    job_id = new_job_id(settings)
    sync_queue(conn, settings).enqueue(
        RECONCILE_FUNCTION,
        {"syncType": sync_type},
        job_id=job_id,
        job_timeout=settings.job_timeout_s,
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        description=f"{sync_type} reconciliation",
    )
    pipe = conn.pipeline()
    pipe.lpush(recent_key(settings), f"{job_id} {sync_type} {utcnow()}")
    pipe.ltrim(recent_key(settings), 0, RECENT - 1)
    pipe.execute()
    return job_id


def recent(conn: redis.Redis, settings: Settings) -> list[dict[str, str]]:
    out = []
    for raw in conn.lrange(recent_key(settings), 0, -1):
        job_id, sync_type, at = (as_str(raw).split(" ") + ["", ""])[:3]
        out.append({"reconcileId": job_id, "syncType": sync_type, "queuedAt": at})
    return out


def _ours(sync_type: str, settings: Settings, code: str, cached: Mapping[str, int]) -> bool:
    if sync_type == "PRODUCT":
        return code in cached
    if sync_type == "CUSTOMER":
        return code.startswith(settings.customer_code_template.split("{id}")[0])
    return code.startswith(settings.invoice_tracking_prefix)


def reconcile(
    sync_type: str, settings: Settings, conn: redis.Redis, publish: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Compare and return the report (the job's result)."""
    started = utcnow()
    control = RunControl(None, publish)
    ctx = build_context(settings, conn, control, dry_run=True)
    try:
        record_kind = registered(sync_type).luca_record
        cache = IdCache(conn, settings.key_prefix, record_kind, settings.cache_ttl_s)
        control.set_phase("reading Luca")
        cached = {as_str(k): int(v) for k, v in conn.hgetall(cache.key).items()}
        luca_rows = ctx.luca.records(sync_type, settings)
        prepared = prepare_of(sync_type)(ctx, None)  # Katana, mapped as a sync maps it
        control.set_phase("comparing")
        plans = {i.key: i for i in prepared.items if i.plan is not None}
        gone = sum(1 for i in prepared.items if i.plan is None and getattr(i, "gone", None))
        by_code = {code: row for code, _, row in luca_rows}
        luca_ids = {luca_id for _, luca_id, _ in luca_rows}
        missing: list[dict[str, Any]] = []
        drifted: list[dict[str, Any]] = []
        for key, item in sorted(plans.items()):
            assert item.plan is not None
            row = by_code.get(key)
            if row is None:
                missing.append(
                    {"key": key, "katanaId": item.plan.source_id, "label": item.plan.label,
                     "ref": prepared.refs.get(key)}
                )  # fmt: skip
                continue
            fields = drift(record_kind, item.plan.payload, row)
            if fields:
                drifted.append(
                    {"key": key, "katanaId": item.plan.source_id, "lucaId": _id_of(luca_rows, key),
                     "label": item.plan.label, "fields": fields, "ref": prepared.refs.get(key)}
                )  # fmt: skip
        not_in_katana = [
            {"key": code, "lucaId": luca_id, "label": _label(row)}
            for code, luca_id, row in sorted(luca_rows, key=lambda r: r[0])
            if code not in plans and _ours(sync_type, settings, code, cached)
        ]
        stale = [
            {"key": code, "cachedId": luca_id} for code, luca_id in sorted(cached.items()) if luca_id not in luca_ids
        ]
        # The targeted sync reads these Katana records by id (variant:5, customer:7, order:9).
        fixable = missing + (drifted if sync_type in FIXABLE_DRIFT else [])
        fix_keys = sorted({str(f["ref"]) for f in fixable if f.get("ref")})
        report = {
            "syncType": sync_type,
            "startedAt": started,
            "finishedAt": utcnow(),
            "counts": {
                "katana": len(prepared.items),
                "luca": len(luca_rows),
                "cache": len(cached),
                "missingInLuca": len(missing),
                "notInKatana": len(not_in_katana),
                "drifted": len(drifted),
                "staleCache": len(stale),
                "unmappable": len(prepared.items) - len(plans) - gone,
            },
            "missingInLuca": missing[:MAX_LISTED],
            "notInKatana": not_in_katana[:MAX_LISTED],
            "drifted": drifted[:MAX_LISTED],
            "staleCache": stale[:MAX_LISTED],
            "fixKeys": fix_keys,
            "driftFixable": sync_type in FIXABLE_DRIFT,
        }
        control.set_phase("done")
        log.info("%s reconciliation: %s", sync_type, report["counts"], extra={"sync_type": sync_type})
        return report
    finally:
        ctx.katana.close()
        ctx.luca.close()


def _id_of(rows: list[tuple[str, int, dict[str, Any]]], code: str) -> int | None:
    return next((luca_id for c, luca_id, _ in rows if c == code), None)


def _label(row: Mapping[str, Any]) -> str:
    return str(row.get("adi") or row.get("tanim") or row.get("belgeAciklama") or "")


class NothingToFix(ValueError):
    """The report lists nothing a sync could fix."""


def queue_fix(
    conn: redis.Redis, settings: Settings, report: Mapping[str, Any], trigger: str, job_function: str = JOB_FUNCTION
) -> tuple[str, RunRequest]:
    """A targeted sync of the report's missing (and, for stock cards, drifted) keys."""
    keys = [k for k in report.get("fixKeys") or [] if isinstance(k, str)][: RunRequest.MAX_KEYS]
    if not keys:
        raise NothingToFix("nothing to fix: no record is missing or drifted")
    drifted = [d["key"] for d in report.get("drifted") or []]
    if drifted and report.get("driftFixable"):
        cache = IdCache(conn, settings.key_prefix, "stockcard", settings.cache_ttl_s)
        # A digest that matches nothing: the sync sees a known record whose content changed and
        # updates it (deleting the digest would make it an "adopted" record of unknown content).
        conn.hset(cache.digest_key, mapping=dict.fromkeys(drifted, "drifted-in-luca"))
    request = RunRequest(sync_type=str(report["syncType"]), trigger=trigger, keys=tuple(keys))
    return start_sync(conn, settings, request, job_function), request
