"""RQ entry points, enqueued on queue ``sync`` by the API and executed by ``rq worker sync``.

Arguments are JSON scalars (the queue uses the JSON serializer) and never carry secrets: the
worker reads credentials from its own environment. The run id is the RQ job id, so RQ's retry
of an abandoned job re-uses its history row and items instead of duplicating them.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import redis
from rq import get_current_job

from jobs.run import run_sync
from syncsvc.domain.errors import ConfigError
from syncsvc.settings import from_env

log = logging.getLogger(__name__)


def _check_args(limit: Any, dry_run: Any) -> tuple[int | None, bool]:
    # The queue can be fed by anything that reaches Redis: validate again here.
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"limit must be a positive integer or null, got {limit!r}")
    if not isinstance(dry_run, bool):
        raise ConfigError(f"dry_run must be true or false, got {dry_run!r}")
    return limit, dry_run


def _run(sync_type: str, limit: Any, dry_run: Any) -> dict[str, Any]:
    limit, dry_run = _check_args(limit, dry_run)
    settings = from_env()
    job = get_current_job()
    if job is None:  # called directly (python -c ...): run in-process
        conn = redis.Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0")
        return run_sync(
            sync_type,
            settings=settings,
            conn=conn,
            run_id=uuid.uuid4().hex,
            limit=limit,
            dry_run=dry_run,
            trigger="direct",
        )

    def publish(progress: dict[str, Any]) -> None:
        job.meta["progress"] = progress
        job.meta["runId"] = job.id
        job.save_meta()

    return run_sync(
        sync_type,
        settings=settings,
        conn=job.connection,
        run_id=job.id,
        limit=limit,
        dry_run=dry_run,
        publish=publish,
        trigger=str(job.meta.get("trigger", "api")),
    )


def process_stock_cards(limit: int | None = None, dry_run: bool = False) -> dict[str, Any]:
    """PRODUCT: Katana variants (products, materials, services) -> Luca stock cards."""
    return _run("PRODUCT", limit, dry_run)


def process_customers(limit: int | None = None, dry_run: bool = False) -> dict[str, Any]:
    """CUSTOMER: Katana customers -> Luca cari accounts."""
    return _run("CUSTOMER", limit, dry_run)


def process_invoices(limit: int | None = None, dry_run: bool = False) -> dict[str, Any]:
    """INVOICE: delivered Katana sales orders -> Luca sales invoices (cari and cards ensured first)."""
    return _run("INVOICE", limit, dry_run)
