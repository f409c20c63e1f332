"""The exception tree. Retry and give-up decisions are derived from these classes only
(:func:`is_retryable`, :func:`is_systemic`, :func:`retry_run`).

::

    SyncError
    ├── ConfigError              bad or missing setting; stops start-up / the run (not retried)
    ├── RunAborted               systemic: the whole run fails, nothing partial (a cache warm-up
    │   │                        was implausible, the run lock was lost, Katana answered 4xx)
    │   ├── JobVanished          Redis lost the run's job and lock: closed as an orphan, its work
    │   │                        resumed by another run (jobs/orphans.py)
    │   ├── AccessRefused        Luca refused the login or branch, Katana refused the key (401):
    │   │                        never retried (a real Luca locks the account after failed logins)
    │   └── Unavailable          Katana/Luca still unreachable after the client's own retries: the
    │       │                    job is retried later by RQ
    │       └── HistoryUnavailable  the run-history database can't be reached (PostgreSQL down)
    ├── AlreadyRunning           a run of the same type holds the lock (retried later by RQ)
    ├── TransientError           worth retrying with backoff: timeouts, resets, 5xx, unparseable
    │   │                        bodies. On a write the outcome is UNKNOWN (the record may have been
    │   │                        committed), so the next attempt must look the record up first.
    │   ├── ReplyTimeout         no reply in time: the server may still commit it LATER, so the
    │   │                        look-up waits out LUCA_WRITE_SETTLE first
    │   ├── RateLimited          429 with the server's Retry-After (never jittered below it)
    │   └── SessionLost          HTML login page / Struts error instead of JSON: re-login, and
    │                            treat a write as ambiguous (commit-then-fail looks exactly so)
    ├── SessionExpired           JSON 1001/1002/1003: the request was NOT processed; the client
    │                            re-logs in (single-flight) and resends by itself
    ├── AlreadyExists            Luca "Kart kodu daha önce kullanılmış": adopt, don't fail
    └── PermanentError           never retried; the item ends ``failed`` with this message
        ├── BusinessError        Luca ``error:true`` with a message (validation, unknown ref)
        ├── MappingError         Katana data can't be mapped, or a mapping table lacks an entry
        └── ConflictError        two Katana keys canonicalise to the same Luca code
"""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class SyncError(Exception):
    """Base of every error this service raises on purpose."""


class ConfigError(SyncError):
    """A setting is missing or malformed; the message names it and what is expected."""


class RunAborted(SyncError):
    """The run cannot go on without risking duplicates or a silently partial result."""


class JobVanished(RunAborted):
    """Redis lost the run's job, lock and claim (flushed, or restarted without its data): the run
    stops; it is closed as an orphan and its unfinished work goes to another run (jobs/orphans.py)."""


class AccessRefused(RunAborted):
    """Credentials or the branch were refused: a retry would fail the same way (and a real Luca
    locks the account after a few failed logins)."""


class Unavailable(RunAborted):
    """A remote system stayed unreachable or kept failing after the client's retries; the run
    stops, and RQ may retry the whole job later."""


class HistoryUnavailable(Unavailable):
    """The run-history database cannot be reached or used (PostgreSQL down, SQLite file locked
    or unwritable); the message says where, never a password."""


class AlreadyRunning(SyncError):
    """Another run of the same sync type holds the run lock."""


class TransientError(SyncError):
    """A failure worth retrying. For writes the outcome is unknown until looked up."""


class RateLimited(TransientError):
    """HTTP 429; ``retry_after`` is the server's wait in seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ReplyTimeout(TransientError):
    """The request was sent but no reply came in time: the server may still be working on it and
    commit the write after we gave up, so "not found" right now does not mean "not created"."""


class SessionLost(TransientError):
    """Luca answered HTML (login page or Struts error): the session is gone, a write is ambiguous."""


class SessionExpired(SyncError):
    """Luca answered code 1001/1002 (not logged in) or 1003 (no branch): request not processed."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class AlreadyExists(SyncError):
    """Luca refused a create because the code is taken: the record exists, adopt it."""


class PermanentError(SyncError):
    """Retrying cannot help; the item fails with this message."""


class BusinessError(PermanentError):
    """Luca rejected the record (``error:true`` with a message)."""


class MappingError(PermanentError):
    """The Katana record can't be turned into a Luca record; the message says what to fix."""


class ConflictError(PermanentError):
    """Two different Katana keys map to the same Luca code; never merged silently."""


# Transient failures of the infrastructure itself (a Redis blip): the run could not go on, a
# later attempt of the whole job may.
_INFRA_TRANSIENT: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError)


def is_retryable(exc: BaseException) -> bool:
    """May the same operation succeed if tried again? Transient errors (the outcome of a write is
    unknown until looked up) and Luca's "not processed" session codes."""
    return isinstance(exc, TransientError | SessionExpired)


def is_systemic(exc: BaseException) -> bool:
    """Does this error stop the whole run (rather than fail one item)?"""
    return isinstance(exc, ConfigError | RunAborted | AlreadyRunning)


def retry_run(exc: BaseException) -> bool:
    """Should RQ run the whole job again later? Only for transient systemic failures: a remote
    that stayed unavailable, a Redis blip, a lock still held by a run that died, or a transient
    error that escaped its layer. Configuration, refused credentials, lost locks and bugs end the
    job at once: another attempt would fail the same way (or lock the Luca account)."""
    return isinstance(exc, (Unavailable, AlreadyRunning, TransientError, *_INFRA_TRANSIENT))


def error_class(exc: BaseException) -> str:
    """The short class name stored with a failed item (``BusinessError``, ``TransientError``...)."""
    return type(exc).__name__
