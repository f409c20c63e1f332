"""Fault injection: which calls misbehave, how, and how often (spec §6, §7).

Every ``/Yetki`` call draws from one seeded RNG, so a test with a fixed seed and a serial
client sees the same faults on each run; concurrent clients interleave draws, hence only
"reproducible-ish".
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, replace
from typing import Any

KINDS = (
    "reset",
    "bad_gateway",
    "html_login",
    "session_expiry",
    "branch_loss",
    "empty_error",
    "slow",
    "commit_then_fail",
)
# When several kinds fire on one call, the earliest in this order wins: infrastructure faults
# happen before the application ever sees the request.
PRIORITY = {kind: i for i, kind in enumerate(KINDS)}
COMMIT_MODES = ("html", "reset", "timeout", "random")
# Session bootstrap actions are exempt unless named explicitly: a fault there would only test
# the client's login loop, which the session faults already do.
EXEMPT_ACTIONS = frozenset({"Giris", "YdlUserResponsibilityOrgSs", "GuncelleYtkSirketSubeDegistir"})


CONFIG_KEYS = frozenset({"latency_ms", "jitter_ms", "slow_seconds", "single_session_per_user", "seed", "faults"})


class FaultConfigError(ValueError):
    pass


def is_write_action(action: str) -> bool:
    """Data writes, the only calls ``commit_then_fail`` can hit (branch change is not data)."""
    return action.startswith(("Ekle", "Guncelle", "Sil")) and action not in EXEMPT_ACTIONS


def normalize_action(name: str) -> str:
    name = name.strip()
    if name.startswith("/Yetki/"):
        name = name[len("/Yetki/") :]
    return name[:-3] if name.endswith(".do") else name


@dataclass(frozen=True)
class FaultRule:
    probability: float = 0.0
    every: int = 0
    actions: frozenset[str] | None = None
    mode: str = "random"  # commit_then_fail only

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"probability": self.probability, "every": self.every}
        if self.actions is not None:
            out["actions"] = sorted(self.actions)
        out["mode"] = self.mode
        return out


@dataclass(frozen=True)
class FaultConfig:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    slow_seconds: float = 35.0
    single_session_per_user: bool = True
    seed: int = 42
    faults: dict[str, FaultRule] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "jitter_ms": self.jitter_ms,
            "slow_seconds": self.slow_seconds,
            "single_session_per_user": self.single_session_per_user,
            "seed": self.seed,
            "faults": {kind: rule.to_json() for kind, rule in self.faults.items()},
        }


def _number(body: dict[str, Any], key: str, default: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultConfigError(f"{key} must be a non-negative number")
    return float(value)


def parse_rule(kind: str, spec: Any) -> FaultRule:
    if kind not in KINDS:
        raise FaultConfigError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
    if not isinstance(spec, dict):
        raise FaultConfigError(f"fault {kind} must be an object")
    unknown = set(spec) - {"probability", "every", "actions", "mode"}
    if unknown:
        raise FaultConfigError(f"fault {kind}: unknown keys {sorted(unknown)}")
    probability = _number(spec, "probability", 0.0)
    if probability > 1:
        raise FaultConfigError(f"fault {kind}: probability must be within [0, 1]")
    every = spec.get("every", 0)
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise FaultConfigError(f"fault {kind}: every must be a non-negative integer")
    actions = spec.get("actions")
    if actions is not None:
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise FaultConfigError(f"fault {kind}: actions must be a list of action names")
        actions = frozenset(normalize_action(a) for a in actions)
    mode = spec.get("mode", "random")
    if mode not in COMMIT_MODES:
        raise FaultConfigError(f"fault {kind}: mode must be one of {', '.join(COMMIT_MODES)}")
    return FaultRule(probability=probability, every=every, actions=actions, mode=mode)


def parse_config(body: Any, base: FaultConfig) -> FaultConfig:
    """Build a config from an admin body; keys it leaves out keep the ``base`` (CLI) value."""
    if not isinstance(body, dict):
        raise FaultConfigError("fault config must be a JSON object")
    unknown = set(body) - CONFIG_KEYS
    if unknown:
        raise FaultConfigError(f"unknown keys {sorted(unknown)}")
    config = replace(
        base,
        latency_ms=_number(body, "latency_ms", base.latency_ms),
        jitter_ms=_number(body, "jitter_ms", base.jitter_ms),
        slow_seconds=_number(body, "slow_seconds", base.slow_seconds),
    )
    if "single_session_per_user" in body:
        if not isinstance(body["single_session_per_user"], bool):
            raise FaultConfigError("single_session_per_user must be a boolean")
        config = replace(config, single_session_per_user=body["single_session_per_user"])
    if "seed" in body:
        if isinstance(body["seed"], bool) or not isinstance(body["seed"], int):
            raise FaultConfigError("seed must be an integer")
        config = replace(config, seed=body["seed"])
    if "faults" in body:
        faults = body["faults"]
        if not isinstance(faults, dict):
            raise FaultConfigError("faults must be an object of kind -> rule")
        config = replace(config, faults={kind: parse_rule(kind, spec) for kind, spec in faults.items()})
    return config


def parse_cli_fault(text: str) -> tuple[str, FaultRule]:
    """``KIND=SPEC`` with SPEC a comma list of ``0.1``, ``every:7``, ``mode:html``, ``actions:A|B``."""
    kind, sep, spec = text.partition("=")
    if not sep or not spec:
        raise FaultConfigError(f"expected KIND=SPEC, got {text!r}")
    rule: dict[str, Any] = {}
    for token in spec.split(","):
        key, colon, value = token.strip().partition(":")
        try:
            if not colon:
                rule["probability"] = float(key)
            elif key == "every":
                rule["every"] = int(value)
            elif key == "mode":
                rule["mode"] = value
            elif key == "actions":
                rule["actions"] = value.split("|")
            else:
                raise FaultConfigError(f"unknown token {token!r} in {text!r}")
        except ValueError as exc:
            raise FaultConfigError(f"bad number in {text!r}") from exc
    return kind.strip(), parse_rule(kind.strip(), rule)


@dataclass(frozen=True)
class Fault:
    kind: str
    mode: str = ""  # resolved commit_then_fail mode (never "random")


class FaultInjector:
    """Decides, per call, which fault (if any) to inject; counts what was injected."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._eligible_calls: dict[str, int] = {kind: 0 for kind in KINDS}
            self.injected: dict[str, int] = {kind: 0 for kind in KINDS}

    def latency_seconds(self) -> float:
        """Base latency plus uniform jitter in [-jitter, +jitter], never negative."""
        with self._lock:
            config = self.config
            jitter = self._rng.uniform(-config.jitter_ms, config.jitter_ms) if config.jitter_ms else 0.0
        return max(0.0, config.latency_ms + jitter) / 1000.0

    def draw(self, action: str) -> Fault | None:
        with self._lock:
            fired: list[Fault] = []
            for kind, rule in self.config.faults.items():
                if not self._eligible(kind, rule, action):
                    continue
                self._eligible_calls[kind] += 1
                hit = bool(rule.every) and self._eligible_calls[kind] % rule.every == 0
                # Always consume a draw for probabilistic rules so one rule's outcome does not
                # shift the random sequence another rule sees.
                if rule.probability and self._rng.random() < rule.probability:
                    hit = True
                if hit:
                    mode = rule.mode
                    if kind == "commit_then_fail" and mode == "random":
                        mode = self._rng.choice(("html", "reset", "timeout"))
                    fired.append(Fault(kind, mode if kind == "commit_then_fail" else ""))
            if not fired:
                return None
            return min(fired, key=lambda f: PRIORITY[f.kind])

    @staticmethod
    def _eligible(kind: str, rule: FaultRule, action: str) -> bool:
        if not (rule.probability or rule.every):
            return False
        if rule.actions is not None:
            allowed = action in rule.actions
        else:
            allowed = action not in EXEMPT_ACTIONS
        if kind == "commit_then_fail":
            allowed = allowed and is_write_action(action)
        return allowed

    def record(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                **self.config.to_json(),
                "injected": dict(self.injected),
                "eligible_calls": dict(self._eligible_calls),
            }
