"""One Luca session shared by every thread and every worker process, kept in Redis.

Luca's session is a pair of cookies (``JSESSIONID`` and the NetScaler persistence cookie) plus a
branch selected server-side. Parallel logins by the same user kill each other's sessions and
storms of them were the origin integration's daily trouble, so re-login is single-flight: a
caller that saw generation G fail takes a Redis lock, and logs in only if the stored session is
still generation G; otherwise somebody already did and it reuses theirs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from syncsvc.keys import Keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LucaSession:
    generation: int
    cookies: dict[str, str]
    branch_id: int

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


class SessionStore:
    """Redis-held current session plus the single-flight lock around (re)login."""

    def __init__(self, conn: redis.Redis, prefix: str, ttl_s: int = 3600) -> None:
        self.conn = conn
        keys = Keys(prefix)
        self.key = keys.luca_session()
        self.lock_key = keys.luca_login_lock()
        self.logins_key = keys.luca_logins()
        self.ttl_s = ttl_s
        self._local: LucaSession | None = None

    def current(self) -> LucaSession | None:
        """The shared session (cached in-process; refreshed from Redis after a failure)."""
        if self._local is None:
            self._local = self._read()
        return self._local

    def _read(self) -> LucaSession | None:
        raw = self.conn.get(self.key)
        if not raw:
            return None
        data = json.loads(raw)
        return LucaSession(int(data["generation"]), dict(data["cookies"]), int(data["branch_id"]))

    def refresh(
        self, failed_generation: int | None, login: Callable[[LucaSession | None], tuple[dict[str, str], int]]
    ) -> LucaSession:
        """Replace the session that failed (``failed_generation``), once, for everybody.

        ``login(previous)`` performs the login + branch selection and returns (cookies, branch).
        """
        with self.conn.lock(self.lock_key, timeout=120, blocking_timeout=180, thread_local=False):
            stored = self._read()
            if stored is not None and stored.generation != failed_generation:
                self._local = stored  # someone re-logged in while we waited: reuse theirs
                return stored
            cookies, branch = login(stored)
            session = LucaSession((stored.generation if stored else 0) + 1, cookies, branch)
            payload: dict[str, Any] = {
                "generation": session.generation,
                "cookies": cookies,
                "branch_id": branch,
                "logged_in_at": time.time(),
            }
            pipe = self.conn.pipeline()
            pipe.set(self.key, json.dumps(payload), ex=self.ttl_s)
            pipe.incr(self.logins_key)
            pipe.execute()
            self._local = session
            log.info("Luca session generation %d established (branch %d)", session.generation, branch)
            return session
