"""The HTTP API's request and response shapes, defined once as pydantic models.

Requests are parsed with these models (every rejection one line naming the field and what is
allowed, :func:`syncsvc.domain.checks.one_line`); the OpenAPI document (:mod:`syncsvc.web.spec`)
is generated from the same models. A new field is one line in a model; a new route names its
models in :func:`syncsvc.web.spec.documented`.

Response models are documentation, not a runtime filter: tests validate real responses against
them (tests/integration/test_api_shapes.py), so the document stays true.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    create_model,
)
from pydantic.alias_generators import to_camel

from syncsvc.domain.checks import HINT, ascii_int, one_line, one_of, show_text
from syncsvc.domain.model import OUTCOMES, PHASES, RUN_STATUSES, InvalidRequest, RunRequest
from syncsvc.domain.synctypes import SYNC_TYPE_NAMES


class BadRequest(ValueError):
    """The request is invalid; the message is safe to return to the client."""


def _enum(values: tuple[str, ...]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": list(values)})


JOB_STATES = ("QUEUED", "STARTED", "FINISHED", "FAILED", "SCHEDULED", "DEFERRED", "STOPPED", "CANCELED", "CREATED")
HISTORY_STATES = (*JOB_STATES, "FAILED_WILL_RETRY", "ABANDONED", "UNKNOWN")
"""``ABANDONED``: the worker running that execution died; the run was handed back (jobs/recovery.py)."""

SyncTypeName = Annotated[str, AfterValidator(one_of(SYNC_TYPE_NAMES)), _enum(SYNC_TYPE_NAMES)]
StartMode = Annotated[str, AfterValidator(one_of(("full", "incremental"))), _enum(("full", "incremental"))]
Limit = Annotated[
    int, Field(ge=1, description="process at most this many items", json_schema_extra={HINT: "all items"})
]
Outcome = Annotated[str, AfterValidator(one_of(OUTCOMES)), _enum(OUTCOMES)]
RunStatus = Annotated[str, AfterValidator(one_of(RUN_STATUSES)), _enum(RUN_STATUSES)]
Phase = Annotated[str, AfterValidator(one_of(PHASES)), _enum(PHASES)]
JobState = Annotated[str, AfterValidator(one_of((*JOB_STATES, "UNKNOWN"))), _enum((*JOB_STATES, "UNKNOWN"))]
HistoryState = Annotated[str, AfterValidator(one_of(HISTORY_STATES)), _enum(HISTORY_STATES)]
# Query-string integers: ASCII digits only (ascii_int), parsed before the bounds are checked.
_ascii = BeforeValidator(ascii_int)


class _Model(BaseModel):
    # Python names in snake_case, JSON names in camelCase (as the rest of the API).
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, validate_by_name=True, validate_by_alias=True)


# -- requests ----------------------------------------------------------------------------------


class StartRequest(_Model):
    """``POST /api/sync/start``: the fields of a run request a client may set."""

    model_config = ConfigDict(strict=True, validate_by_name=False)

    sync_type: SyncTypeName
    limit: Limit | None = None
    dry_run: bool = Field(False, description="compute outcomes, write nothing")
    mode: StartMode | None = Field(
        None,
        description="incremental reads only what changed since the type's cursor; "
        "default: incremental when the type has a cursor, else full",
    )
    keys: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        None,
        min_length=1,
        max_length=RunRequest.MAX_KEYS,
        description="sync only these records: Katana refs (variant:ID, customer:ID, order:ID) or keys "
        "of failed items waiting in the retry set",
    )

    def to_request(self, trigger: str = "api") -> RunRequest:
        """The domain's run request (validated again there).

        Raises:
            BadRequest: the domain refused a value the shape allowed.
        """
        try:
            return RunRequest(
                self.sync_type, limit=self.limit, dry_run=self.dry_run, trigger=trigger, mode=self.mode,
                keys=tuple(self.keys) if self.keys is not None else None,
            )  # fmt: skip
        except InvalidRequest as exc:
            raise BadRequest(str(exc)) from None


class _Query(BaseModel):
    # Unknown query parameters are ignored, as browsers and proxies add their own.
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, validate_by_name=False)


class _Paging(_Query):
    """``limit``/``offset``, or ``page``/``pageSize`` (1-based page)."""

    limit: Annotated[int, Field(ge=1), _ascii] | None = Field(None, description="page size")
    offset: Annotated[int, Field(ge=0), _ascii] | None = None
    page: Annotated[int, Field(ge=1), _ascii] | None = Field(None, description="1-based; with pageSize")
    page_size: Annotated[int, Field(ge=1), _ascii] | None = None

    DEFAULT_SIZE: ClassVar[int] = 50

    def window(self) -> tuple[int, int]:
        """(limit, offset)."""
        if self.page is not None or self.page_size is not None:
            size = self.page_size or self.DEFAULT_SIZE
            return size, ((self.page or 1) - 1) * size
        return self.limit or self.DEFAULT_SIZE, self.offset or 0


class RunsQuery(_Paging):
    """``GET /api/sync/history``."""

    type: SyncTypeName | None = None
    status: RunStatus | None = None
    limit: Annotated[int, Field(ge=1, le=500), _ascii] | None = Field(None, description="page size")
    page_size: Annotated[int, Field(ge=1, le=500), _ascii] | None = None


class ItemsQuery(_Paging):
    """``GET /api/sync/history/<runId>/items``."""

    outcome: Outcome | None = None
    limit: Annotated[int, Field(ge=1, le=1000), _ascii] | None = Field(None, description="page size")
    page_size: Annotated[int, Field(ge=1, le=1000), _ascii] | None = None

    DEFAULT_SIZE: ClassVar[int] = 100


def parse_body(model: type[StartRequest], content_type: str | None, raw: bytes) -> StartRequest:
    """A JSON body as ``model``.

    Raises:
        BadRequest: with a one-line message naming the field and the allowed values.
    """
    mimetype = (content_type or "").split(";")[0].strip().lower()
    if mimetype != "application/json":
        raise BadRequest(f"Content-Type must be application/json, got {mimetype or 'none'!r}")
    if not raw.strip():
        raise BadRequest('body must be a JSON object such as {"syncType": "PRODUCT"}')
    try:
        body: Any = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"body is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(body, dict):
        raise BadRequest(f'body must be a JSON object such as {{"syncType": "PRODUCT"}}, got {_kind(body)}')
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise BadRequest(one_line(exc, model)) from None


Q = TypeVar("Q", bound="_Query")


def parse_query(model: type[Q], args: Mapping[str, str]) -> Q:
    """Query parameters as ``model``; an empty value counts as absent.

    Raises:
        BadRequest: with a one-line message naming the parameter and the allowed values.
    """
    names = [field.alias or name for name, field in model.model_fields.items()]
    present = {name: args[name] for name in names if args.get(name)}
    try:
        return model.model_validate(present)
    except ValidationError as exc:
        raise BadRequest(one_line(exc, model, show_text)) from None


def parse_choice(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    """One optional query parameter from ``allowed`` (for pages that take loose filters)."""
    value = args.get(name)
    if not value:
        return None
    if value not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)}, got {show_text(value)}")
    return value


@cache
def paging_model(default_size: int, max_size: int) -> type[_Paging]:
    """A paging model with these bounds (the API's own routes declare theirs as classes)."""
    bounded = Annotated[int, Field(ge=1, le=max_size), _ascii] | None
    model = create_model(
        f"Paging{default_size}x{max_size}", __base__=_Paging, limit=(bounded, None), page_size=(bounded, None)
    )
    model.DEFAULT_SIZE = default_size
    return model


def parse_paging(args: Mapping[str, str], default_size: int = 50, max_size: int = 500) -> tuple[int, int]:
    """(limit, offset) from ``limit``/``offset`` or ``page``/``pageSize``."""
    return parse_query(paging_model(default_size, max_size), args).window()


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


# -- responses ---------------------------------------------------------------------------------


class Error(_Model):
    success: Literal[False]
    error: str = Field(description="one line naming the field and the allowed values")
    job_id: str | None = Field(None, description="on 409: the run already queued or running")


class StartResponse(_Model):
    success: Literal[True]
    message: str = Field(examples=["Sync job queued successfully: PRODUCT"])
    job_id: str
    sync_type: SyncTypeName
    sync_mode: Literal["async"]
    dry_run: bool
    limit: int | None
    mode: StartMode | None = Field(None, description="what this run reads")
    keys: list[str] | None = None
    dashboard_url: str
    status_url: str


class Counts(_Model):
    total: int = 0
    created: int = 0
    updated: int = 0
    adopted: int = 0
    skipped: int = 0
    failed: int = 0
    gone: int = Field(0, description="deleted or archived in Katana (incremental runs)")


class Progress(Counts):
    """``job.meta["progress"]``, published by the job while it runs."""

    phase: Phase
    processed: int = 0
    updated_at: str
    batches: int | None = None
    retry_round: int | None = None
    error: str | None = Field(None, description="on phase failed: the reason, one line")


class Failure(_Model):
    key: str
    error_class: str | None
    message: str | None


class JobResult(Counts):
    """The run summary (the job's return value). Sync types add their own figures (katanaVariants,
    cacheWarmUp, ensured...), so further keys are allowed."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    sync_type: SyncTypeName
    dry_run: bool
    duration_seconds: float
    failures: list[Failure] = Field(max_length=50)


class StateChange(_Model):
    state_name: HistoryState
    created_at: str | None
    attempt: int | None = Field(default=None, description="which execution of the job (1, 2, ...)")
    reason: str | None = Field(default=None, description="why that execution failed or was abandoned")


class JobStatus(_Model):
    job_id: str
    state: JobState
    created_at: str | None
    job: str | None = Field(description="the job function")
    sync_type: SyncTypeName | None
    dry_run: bool | None
    progress: Progress | None
    result: JobResult | None
    error: str | None = Field(description="last line of the exception (no traceback)")
    history: list[StateChange]
    retries_left: int | None = Field(description="automatic retries RQ still has")


class Execution(_Model):
    attempt: int = Field(description="which execution of the run's job (1, 2, ...)")
    started_at: str | None
    ended_at: str | None = None
    outcome: HistoryState | None = Field(None, description="FINISHED, FAILED, FAILED_WILL_RETRY or ABANDONED")
    reason: str | None = Field(None, description="why that execution failed or was abandoned")


class Run(Counts):
    run_id: str
    parent_run_id: str | None = Field(
        None, description="the run whose failed items this run retried, or the orphan it resumes (trigger recovery)"
    )
    attempts: list[Execution] | None = Field(None, description="each execution of the run's job, oldest first")
    mode: str | None = Field(None, description="full, incremental or drain")
    cursor_before: str | None = None
    cursor_after: str | None = None
    sync_type: SyncTypeName
    trigger: str | None
    params: dict[str, Any] | None
    dry_run: bool
    status: RunStatus
    started_at: str | None
    finished_at: str | None
    error: str | None
    summary: dict[str, Any] | None


class RunDetail(Run):
    outcome_counts: dict[str, int]


class RunsPage(_Model):
    runs: list[Run]
    total: int
    limit: int
    offset: int


class RunItem(_Model):
    run_id: str
    item_key: str
    kind: str | None
    outcome: Outcome
    luca_id: int | None
    attempts: int | None
    error_class: str | None
    message: str | None
    finished_at: str | None
    katana_id: int | None = Field(None, description="the Katana record's id")
    label: str | None = Field(None, description="the record's name, for people")
    diff: str | None = Field(None, description="what changed (JSON text), when known")


class ItemsPage(_Model):
    run_id: str
    items: list[RunItem]
    total: int
    limit: int
    offset: int


class CacheEntry(_Model):
    entries: int
    warmed_at: str | None
    warmed_count: int | None
    healthy: bool
    message: str = Field(examples=["Healthy: 1234 entries cached"])


class LastRun(_Model):
    run_id: str
    status: str
    trigger: str | None = None
    mode: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    counts: Counts
    error: str | None = None


class TypeStatus(_Model):
    sync_type: SyncTypeName
    cursor: str | None = Field(description="Katana updated_at watermark incremental runs read from")
    current: str | None = Field(description="the run queued or running now (job id)")
    last_run: LastRun | None
    last_finished_run: LastRun | None
    schedule: str | None = Field(description="SYNC_SCHEDULE_<TYPE> (cron, UTC); null = no schedule")
    next_run: str | None
    pending_events: int = Field(description="records webhooks named that no run has synced yet")
    oldest_pending_seconds: float | None
    drain_queued: str | None = Field(description="the queued webhook drain (job id)")
    retry_set: int = Field(description="failed items every later run fetches again")
    paused: bool = Field(description="after SYNC_PAUSE_AFTER systemic failures in a row; scheduled runs skip it")
    paused_reason: str | None
    paused_since: str | None
    consecutive_failures: int
    pause_after: int
    last_success_at: str | None


class SyncStatus(_Model):
    at: str
    webhooks: bool = Field(description="KATANA_WEBHOOK_TOKEN is set")
    types: list[TypeStatus]


class CacheStatus(_Model):
    stock_cards: CacheEntry
    customers: CacheEntry
    invoices: CacheEntry


class Alive(_Model):
    status: Literal["ok"]


class Check(_Model):
    """One readiness check; a check may add its own figures (e.g. the history schema version)."""

    model_config = ConfigDict(extra="allow")

    ok: bool
    detail: str
    ms: float


class Ready(_Model):
    ready: bool
    checks: dict[str, Check]


# -- failed items: retry and resolve (web/retry_api.py) -------------------------------------------


class RetryResponse(_Model):
    success: Literal[True]
    message: str
    job_id: str
    run_id: str = Field(description="the new run (its id is the job id)")
    parent_run_id: str = Field(description="the run whose failed items are retried")
    sync_type: SyncTypeName
    keys: list[str]
    dashboard_url: str
    status_url: str


class ResolveRequest(_Model):
    key: str = Field(min_length=1, max_length=500, description="the failed item's key")
    reason: str = Field(min_length=1, max_length=500, description="why the item needs no retry")


class Resolution(_Model):
    sync_type: SyncTypeName
    key: str
    reason: str
    resolved_at: str
    run_id: str


class ResolveResponse(_Model):
    success: Literal[True]
    resolution: Resolution


# -- paused types (web/pause_api.py) ---------------------------------------------------------------


class ResumeRequest(_Model):
    sync_type: SyncTypeName


class ResumeResponse(_Model):
    success: Literal[True]
    sync_type: SyncTypeName
    was_paused: bool
    message: str


# -- Katana webhooks (web/webhooks.py) --------------------------------------------------------------


class KatanaObject(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int | str
    status: str | None = None
    href: str | None = None


class KatanaEvent(BaseModel):
    """What Katana posts; further keys are ignored."""

    model_config = ConfigDict(extra="allow")

    action: str = Field(examples=["variant.updated"])
    object: KatanaObject
    resource_type: str | None = None
    webhook_id: int | str | None = None


class WebhookAck(_Model):
    success: Literal[True]
    queued: bool = Field(description="false: an event we don't sync, or the record was already pending")
    action: str | None = None
    reason: str | None = None
    sync_type: SyncTypeName | None = None
    ref: str | None = None
    drain_job: str | None = None


# -- reconciliation (web/reconcile_api.py) -----------------------------------------------------------


class ReconcileRequest(_Model):
    sync_type: SyncTypeName


class ReconcileQueued(_Model):
    success: Literal[True]
    message: str
    reconcile_id: str
    sync_type: SyncTypeName
    status_url: str
    page_url: str


class Reconciliation(_Model):
    reconcile_id: str
    sync_type: SyncTypeName | None
    state: JobState
    progress: dict[str, Any] | None
    error: str | None
    result: dict[str, Any] | None = Field(
        description="when finished: missingInLuca, notInKatana, drifted, staleCache, counts, fixKeys"
    )
    dashboard_url: str


class FixQueued(_Model):
    success: Literal[True]
    message: str
    job_id: str
    keys: list[str]
    status_url: str
