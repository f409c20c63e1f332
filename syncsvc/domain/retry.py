"""The retry policy: one layer per kind of operation, every decision derived from the error tree
(:func:`syncsvc.domain.errors.is_retryable`, :func:`~syncsvc.domain.errors.retry_run`).

==========================  =====================  ==============================================
operation                   retried by             tries (syncsvc/defaults.py, Settings)
==========================  =====================  ==============================================
Katana GET (a page)         KatanaClient           5 transient + 8 x 429 (each waits Retry-After)
Luca list (warm-up read)    LucaClient             LUCA_READ_TRIES = 6
Luca look-up for one item   LucaClient             LUCA_LOOKUP_TRIES = 3 (kept small: see below)
one item (look-up + write)  Engine                 max_attempts (3) x (retry_rounds + 1) (3) = 9
the whole run               RQ                     1 + 2, only for ``retry_run`` errors
==========================  =====================  ==============================================

A session heal (re-login and resend after Luca's 1001-1003, which prove the request was NOT
processed) is not a retry of a failure; it is bounded by LUCA_SESSION_HEALS per call.

Worst case, stated once: a Luca look-up made for one item is sent at most
``LUCA_LOOKUP_TRIES x max_attempts x (retry_rounds + 1) = 3 x 3 x 3 = 27`` times in a run (was
6 x 4 x 3 x 3 x 3 = 648: client reads x session heals x item attempts x rounds x job runs).
Session heals are resends of requests Luca proved it did NOT process, not retries of failures.
Item failures don't fail the run, so RQ never repeats them; a warm-up list is read at most
LUCA_READ_TRIES x 3 job runs = 18 times. (Trying look-ups once made the fault storm leave items
unsynced: a look-up is a read and is retried as one, briefly.)
tests/unit/test_retry_policy.py checks these numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import backoff

from syncsvc.domain.errors import is_retryable

F = TypeVar("F", bound=Callable[..., Any])


def reads(tries: int, base_s: float, max_s: float) -> Callable[[F], F]:
    """Retry a read (safe to resend) on retryable errors: exponential back-off, full jitter."""
    return backoff.on_exception(
        backoff.expo,
        Exception,
        max_tries=tries,
        factor=base_s,
        max_value=max_s,
        giveup=lambda exc: not is_retryable(exc),
        logger=None,
    )
