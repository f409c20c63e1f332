"""Domain rules: the error tree and retry policy, the model, mapping, conversions and the sync-type
registry (no I/O).

PUBLIC is the package's surface, module by module: other packages import only these names
(tests/unit/test_layers.py checks it). Names stay in their modules (no re-exports: the domain is
imported by settings, which mapping imports back, and re-exporting here would make that a cycle).
"""

PUBLIC: dict[str, tuple[str, ...]] = {
    "syncsvc.domain.checks": ("HINT", "ascii_int", "concrete", "one_line", "one_of", "show_json", "show_text"),
    "syncsvc.domain.convert": ("as_int", "canonical_code", "luca_date", "luca_number", "text", "to_decimal"),
    "syncsvc.domain.drift": ("create_diff", "drift"),
    "syncsvc.domain.errors": (
        "AccessRefused", "AlreadyExists", "AlreadyRunning", "BusinessError", "ConfigError", "ConflictError",
        "HistoryUnavailable", "JobVanished", "MappingError", "PermanentError", "RateLimited", "ReplyTimeout",
        "RunAborted", "SessionExpired", "SessionLost", "SyncError", "TransientError", "Unavailable", "error_class",
        "is_retryable", "is_systemic", "retry_run",
    ),
    "syncsvc.domain.mapping": ("LucaTenant", "customer_code", "map_customer", "map_invoice", "map_stock_card"),
    "syncsvc.domain.model": (
        "MODES", "OUTCOMES", "PHASES", "RUN_STATUSES", "TRIGGERS", "InvalidRequest", "ItemRecord", "Plan",
        "RunRequest", "iso_utc", "utcnow",
    ),
    "syncsvc.domain.retry": ("reads",),
    "syncsvc.domain.synctypes": ("SYNC_TYPES", "SYNC_TYPE_NAMES", "SyncType", "sync_type"),
    "syncsvc.domain.webhooks": ("SUBSCRIBED_EVENTS", "BadDelivery", "parse_event", "signature_ok"),
}  # fmt: skip
