"""Sessions as WebLogic behind a NetScaler keeps them: per node, found by two cookies.

``JSESSIONID=<token>!<jvm id>`` names the session on one app node; the ``NSC_…`` persistence
cookie is what routes the request back to that node. Without it (or with another node's) the
request lands on a node that has never heard of the session (spec §2.4, F8).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

JSESSION_COOKIE = "JSESSIONID"
NSC_COOKIE = "NSC_Lpab_IUUQT_443"
NSC_LIFETIME_SECONDS = 35 * 60
# Signed JVM ids as seen in production JSESSIONID suffixes: several nodes behind the balancer.
NODE_IDS = (-1416957362, 2048391554, -707265083)


@dataclass
class Session:
    sid: str
    nsc: str
    node: int
    user: tuple[str, str] | None  # None: issued on a failed login, never authenticated
    branch_id: str | None = None
    last_seen: float = 0.0


@dataclass(frozen=True)
class Lookup:
    """Result of matching a request's cookies; ``reason`` says why ``session`` is None."""

    session: Session | None
    reason: str  # "ok" | "missing" | "unknown" | "expired" | "wrong_node" | "anonymous"
    node: int | None


class SessionStore:
    def __init__(self, ttl_seconds: float) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._next_node = 0
        self.ttl_seconds = ttl_seconds

    def issue(self, user: tuple[str, str] | None, single_session_per_user: bool) -> Session:
        """Create a session (authenticated iff ``user``); optionally evict the user's others."""
        with self._lock:
            node = NODE_IDS[self._next_node % len(NODE_IDS)]
            self._next_node += 1
            session = Session(
                sid=f"{secrets.token_urlsafe(30)}!{node}",
                nsc=secrets.token_hex(36),
                node=node,
                user=user,
                last_seen=time.monotonic(),
            )
            if user is not None and single_session_per_user:
                for sid in [s.sid for s in self._sessions.values() if s.user == user]:
                    del self._sessions[sid]
            if user is not None:
                # Failed logins get cookies but no server-side session to find later.
                self._sessions[session.sid] = session
            return session

    def lookup(self, sid: str | None, nsc: str | None) -> Lookup:
        """Find the live session for these cookies and refresh its idle timer."""
        if not sid:
            return Lookup(None, "missing", None)
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return Lookup(None, "unknown", _node_of(sid))
            if nsc != session.nsc:
                # Routed to some other node; the owning node keeps the session alive.
                other = next(n for n in NODE_IDS if n != session.node)
                return Lookup(None, "wrong_node", other)
            now = time.monotonic()
            if now - session.last_seen > self.ttl_seconds:
                del self._sessions[sid]
                return Lookup(None, "expired", session.node)
            session.last_seen = now
            return Lookup(session, "ok", session.node)

    def drop(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(sid, None)

    def set_branch(self, sid: str, branch_id: str | None) -> None:
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None:
                session.branch_id = branch_id

    def kill_all(self) -> int:
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
            return count

    def live(self) -> list[dict[str, object]]:
        now = time.monotonic()
        with self._lock:
            return [
                {
                    "sid": s.sid,
                    "node": s.node,
                    "user": list(s.user) if s.user else None,
                    "branch": s.branch_id,
                    "idle_seconds": round(now - s.last_seen, 3),
                }
                for s in self._sessions.values()
                if now - s.last_seen <= self.ttl_seconds
            ]


def _node_of(sid: str) -> int | None:
    _, _, suffix = sid.rpartition("!")
    try:
        return int(suffix)
    except ValueError:
        return None
