"""Tuning constants that are not settings, each with its unit (as rq/defaults.py does).

Settings (syncsvc/settings.py) are what an operator configures per deployment; these are the
engineering limits behind them, changed in code with a reason.
"""

from __future__ import annotations

# -- retries (the policy and its worst case: syncsvc/domain/retry.py) -------------------------
KATANA_TRANSIENT_TRIES = 5
"""Tries of one Katana GET on timeouts, resets and 5xx before the fetch fails (Unavailable)."""
KATANA_429_TRIES = 8
"""Tries of one Katana GET answered 429; each waits out the server's Retry-After."""
KATANA_RETRY_BASE_S = 0.5
"""First back-off of a failed Katana GET, doubled per try up to KATANA_RETRY_MAX_S."""
KATANA_RETRY_MAX_S = 8.0
LUCA_READ_TRIES = 6
"""Tries of one Luca list read at warm-up (the whole run depends on it)."""
LUCA_LOOKUP_TRIES = 3
"""Tries of one Luca look-up by natural key, made for one item: the engine retries the item too,
so this is kept small (the product is the worst case, see syncsvc/domain/retry.py)."""
LUCA_READ_BASE_S = 0.2
"""First back-off of a failed Luca list, doubled per try up to LUCA_READ_MAX_S (full jitter)."""
LUCA_READ_MAX_S = 5.0
LUCA_SESSION_HEALS = 3
"""Re-logins one Luca call may make when Luca answers 1001-1003 (request NOT processed)."""
LUCA_LOGIN_TRIES = 3
"""Login + branch selection sequences when the new session dies before its branch is set."""
JOB_RETRY_INTERVALS_S = (30, 120)
"""RQ's retries of a whole job (transient systemic failures and abandoned jobs only)."""

# -- run control (jobs/control.py) ------------------------------------------------------------
PROGRESS_EVERY_S = 0.5
"""Progress is published to the job's meta at most this often (one Redis write)."""
LOCK_EXTEND_EVERY_S = 1.0
"""The run lock is extended (and ownership checked) this often by a timer thread."""

# -- jobs on the queue (jobs/enqueue.py) --------------------------------------------------------
RESULT_TTL_S = 24 * 3600
"""Finished jobs (and their result) stay visible in the dashboard and the job route for a day."""
FAILURE_TTL_S = 7 * 24 * 3600
"""Failed jobs are kept a week, not RQ's default year (the dashboard slows down with many)."""
CLAIM_GRACE_MS = 30_000
"""How long a start claim may exist before its job hash does (the claim-then-enqueue gap)."""
MAX_FAILURES_IN_RESULT = 50
"""Failed items listed in a job's result (all of them are in the history)."""

# -- Redis state (store/) -------------------------------------------------------------------------
RUN_LOCK_TTL_S = 60
"""A run lock lives this long unless extended: a killed worker's lock frees itself in a minute."""
RUN_LOCK_CHECK_EVERY_S = 1.0
"""The lock heartbeat extends and verifies ownership at most this often (one Redis call)."""
CREATE_CLAIM_TTL_S = 120.0
"""A creation claim outlives one create (client timeout x session heals), then frees itself."""
CREATE_PENDING_TTL_S = 7 * 24 * 3600
"""A 'create may be unrecorded' marker lives as long as the cache: after that the warm-up knows."""

# -- Katana paging (clients/katana.py) ------------------------------------------------------------
KATANA_PAGE_SIZE = 250
"""Katana's maximum page size; larger is clamped."""
KATANA_IDS_PER_CALL = 100
"""Ids per bulk look-up (``ids=``): keeps the query string well under common URL limits."""

# -- HTTP API (web/) -------------------------------------------------------------------------------
MAX_BODY_BYTES = 16 * 1024
"""A start request is a few dozen bytes; anything near this is a mistake or an attack."""
READY_TIMEOUT_S = 2.0
"""Each readiness check gives up after this long."""
