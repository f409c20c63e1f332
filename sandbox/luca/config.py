"""Static settings from the CLI and the switches tests may flip at runtime."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from sandbox.luca.faults import FaultConfig
from sandbox.luca.seed import Branch

SESSION_ERROR_CODES = ("by_action", "1001", "1002", "alternate")


@dataclass(frozen=True)
class Switches:
    page_size: int = 10
    session_ttl: float = 1200.0
    card_code_case_insensitive: bool = False
    customer_code_unique: bool = False
    # Which "Login olunmalı." code a call without a session gets; see session_error_code().
    session_error_code: str = "by_action"

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class SwitchError(ValueError):
    pass


def update_switches(current: Switches, body: Any) -> Switches:
    if not isinstance(body, dict):
        raise SwitchError("config must be a JSON object")
    known = {f.name for f in fields(Switches)}
    unknown = set(body) - known
    if unknown:
        raise SwitchError(f"unknown switches {sorted(unknown)}; known: {sorted(known)}")
    out = current
    for name, value in body.items():
        if name in ("card_code_case_insensitive", "customer_code_unique"):
            if not isinstance(value, bool):
                raise SwitchError(f"{name} must be a boolean")
        elif name == "page_size":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SwitchError("page_size must be a positive integer")
        elif name == "session_ttl":
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise SwitchError("session_ttl must be a positive number of seconds")
            value = float(value)
        elif name == "session_error_code" and value not in SESSION_ERROR_CODES:
            raise SwitchError(f"session_error_code must be one of {', '.join(SESSION_ERROR_CODES)}")
        out = replace(out, **{name: value})
    return out


@dataclass(frozen=True)
class Settings:
    org_code: str
    username: str
    password: str
    company: str
    branches: tuple[Branch, ...]
    switches: Switches
    faults: FaultConfig
