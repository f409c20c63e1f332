"""RQ entry points and the batch engine: what `rq worker sync` executes.

PUBLIC is the package's surface, module by module: other packages import only these names
(tests/unit/test_layers.py checks it). The job function ``jobs.tasks.run_sync_job`` is named by
its dotted path (JOB_FUNCTION) wherever a job is enqueued.
"""

PUBLIC: dict[str, tuple[str, ...]] = {
    "jobs.enqueue": (
        "JOB_FUNCTION", "WORKER_COMMAND", "AlreadyQueued", "claim_for_requeue", "current_claim",
        "new_job_id", "note_event", "read_state_log", "resolve_mode", "start_drain", "start_sync", "sync_queue",
    ),
    "jobs.guard": ("install",),
    "jobs.orphans": ("heal", "job_vanished"),
    "jobs.recovery": ("start_watchdog",),
    "jobs.reconcile": ("RECONCILE_FUNCTION", "NothingToFix", "queue_fix", "recent", "start_reconcile"),
    "jobs.retry": ("NoSuchRun", "NothingToRetry", "resolve_item", "retry_failed"),
    "jobs.schedule": ("fire", "is_paused", "next_run", "tick_of"),
    "jobs.tasks": ("run_sync_job", "scheduled_sync"),
}  # fmt: skip
