"""The simulator's root object: every piece of mutable state, and reset/reconfigure."""

from __future__ import annotations

import threading
from typing import Any

from sandbox.luca.config import Settings, SwitchError, Switches, update_switches
from sandbox.luca.faults import CONFIG_KEYS, FaultConfig, FaultInjector, parse_config
from sandbox.luca.requestlog import RequestLog
from sandbox.luca.session import SessionStore
from sandbox.luca.state import Store

_FAULT_KEYS = CONFIG_KEYS


class Simulator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self.switches = settings.switches
        self.store = Store(self.switches)
        self.sessions = SessionStore(self.switches.session_ttl)
        self.faults = FaultInjector(settings.faults)
        self.log = RequestLog()
        # Bumped by reset: a request that was sleeping (latency, slow fault) when the tenant was
        # reset must not write into the next test's data.
        self.generation = 0
        self.logins = 0
        self.in_flight = 0
        self.max_concurrency = 0
        self._alternate = 0

    # -- configuration ---------------------------------------------------------------------------
    def set_switches(self, switches: Switches) -> None:
        self.switches = switches
        self.store.switches = switches
        self.sessions.ttl_seconds = switches.session_ttl

    def configure_faults(self, body: Any) -> FaultConfig:
        config = parse_config(body, self.settings.faults)
        self.faults.configure(config)
        return config

    def reset(self, body: Any) -> None:
        """Back to CLI defaults, then apply overrides; validates everything before changing state.

        ``body`` may mix switch names (``page_size``…) and fault-config keys; its ``faults`` may be
        either a kind -> rule map or a whole fault-config body.
        """
        if not isinstance(body, dict):
            raise SwitchError("reset body must be a JSON object")
        fault_part = {k: v for k, v in body.items() if k in _FAULT_KEYS}
        nested = fault_part.get("faults")
        if isinstance(nested, dict) and set(nested) & _FAULT_KEYS:
            # A whole fault-config body nested under "faults".
            fault_part = {k: v for k, v in fault_part.items() if k != "faults"} | nested
        switches = update_switches(self.settings.switches, {k: v for k, v in body.items() if k not in _FAULT_KEYS})
        faults = parse_config(fault_part, self.settings.faults)
        with self._lock:
            self.generation += 1
            self.logins = 0
            self.max_concurrency = self.in_flight
            self._alternate = 0
        self.set_switches(switches)
        self.store.clear()
        self.sessions.kill_all()
        self.faults.configure(faults)
        self.log.clear()

    # -- counters --------------------------------------------------------------------------------
    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_concurrency = max(self.max_concurrency, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def count_login(self) -> None:
        with self._lock:
            self.logins += 1

    def session_error_code(self, action: str, reason: str) -> int:
        """The code of a "Login olunmalı." reply.

        Default rule ``by_action``: branch bootstrap actions (``Ydl*``, ``GuncelleYtk*``) answer
        1002 as captured, every other action 1001; a request that reaches the wrong node
        (missing or foreign NSC cookie) answers 1002 everywhere. A client must handle both.
        """
        mode = self.switches.session_error_code
        if mode in ("1001", "1002"):
            return int(mode)
        if reason == "wrong_node":
            return 1002
        if mode == "alternate":
            with self._lock:
                self._alternate += 1
                return 1001 if self._alternate % 2 else 1002
        return 1002 if action.startswith(("Ydl", "GuncelleYtk")) else 1001

    def state(self) -> dict[str, Any]:
        return {
            **self.store.report(),
            "logins": self.logins,
            "max_concurrency": self.max_concurrency,
            "in_flight": self.in_flight,
            "live_sessions": len(self.sessions.live()),
            "requests": len(self.log),
            "faults_injected": self.faults.snapshot()["injected"],
        }
