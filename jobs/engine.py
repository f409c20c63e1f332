"""The batch engine: items -> a pool of threads -> one outcome per item.

Items are cut into batches of ``batch_size`` (the unit of progress and of history writes) and
fed to a pool of ``pool_size`` threads as a stream with bounded in-flight work rather than batch
by batch: waiting for the slowest call of every batch costs 20-25 % wall time under realistic
latency spread (see the reference notes), and the remote API is the bottleneck we pay for.

Per item: transient errors are retried with exponential backoff (``max_attempts`` tries, via
``backoff``); permanent errors are not. Items still failing transiently get up to
``retry_rounds`` more passes (the "batch retry"), which re-run only items that have not
succeeded. Every item ends with exactly one outcome; a systemic error (RunAborted, ConfigError)
stops the run and the items it didn't reach are recorded as failed with that reason.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import backoff

from jobs.control import RunControl
from syncsvc import metrics
from syncsvc.domain.errors import PermanentError, RunAborted, SyncError, error_class, is_retryable, is_systemic
from syncsvc.domain.model import ItemRecord, Plan, utcnow
from syncsvc.logsetup import current_fields
from syncsvc.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class ItemState:
    """What earlier attempts on an item did. ``create_sent`` means a create may have been
    committed even though we saw an error: the next attempt must look the record up first, and
    not before ``settle_until`` (monotonic) when the create timed out and may still commit."""

    attempts: int = 0
    create_sent: bool = False
    settle_until: float = 0.0


@dataclass
class Item:
    key: str
    kind: str
    plan: Plan | None = None
    error: SyncError | None = None  # a mapping failure: recorded as failed, never attempted
    gone: str | None = None  # deleted/archived in Katana: recorded as "gone" (why), never attempted
    # Luca's id when the cache snapshot says Luca already holds this plan (same digest): recorded
    # as skipped without a handler call, as the handler would have answered (see mark_unchanged).
    unchanged: int | None = None
    state: ItemState = field(default_factory=ItemState)


@dataclass(frozen=True)
class Done:
    """A handler's answer: the outcome, the Luca id, an optional note."""

    outcome: str
    luca_id: int | None = None
    message: str | None = None
    # Dry runs: JSON {"field": [old, new]} of what a real run would write.
    diff: str | None = None


Handler = Callable[[Plan, ItemState], Done]


@dataclass(frozen=True)
class RunResult:
    """What a finished engine run keeps: outcome counts and the failed items' records."""

    counts: dict[str, int]
    failed: dict[str, ItemRecord]


@dataclass
class Recorder:
    """Buffers item outcomes and hands them to the history store one batch at a time."""

    write: Callable[[list[ItemRecord]], None]
    batch_size: int
    buffer: list[ItemRecord] = field(default_factory=list)

    def add(self, record: ItemRecord) -> None:
        self.buffer.append(record)
        if len(self.buffer) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            rows, self.buffer = self.buffer, []
            self.write(rows)


def _identity(item: Item) -> tuple[int | None, str | None]:
    """The Katana id and a human label (name, order number) of an item, for the console."""
    if item.plan is not None:
        return item.plan.source_id, item.plan.label or None
    _, sep, tail = item.key.partition(":")  # failed before mapping: "variant:12"
    return (int(tail) if sep and tail.isascii() and tail.isdigit() and len(tail) < 19 else None), None


def _record(item: Item, done: Done | None, exc: BaseException | None) -> ItemRecord:
    katana_id, label = _identity(item)
    if exc is not None:
        return ItemRecord(
            item.key,
            "failed",
            kind=item.kind,
            attempts=item.state.attempts,
            error_class=error_class(exc),
            message=str(exc)[:1000],
            finished_at=utcnow(),
            katana_id=katana_id,
            label=label,
        )
    assert done is not None
    return ItemRecord(
        item.key,
        done.outcome,
        kind=item.kind,
        luca_id=done.luca_id,
        attempts=item.state.attempts,
        message=done.message,
        finished_at=utcnow(),
        katana_id=katana_id,
        label=label,
        diff=done.diff,
    )


def _attempt_item(item: Item, handler: Handler, settings: Settings, stop: threading.Event) -> Done:
    assert item.plan is not None
    plan = item.plan

    def log_retry(details: Any) -> None:
        exc = details.get("exception")
        log.info(
            "retrying item %s (attempt %d failed, next in %.2f s): %s", item.key, details["tries"], details["wait"],
            f"{type(exc).__name__}: {exc}"[:300],
            extra={"key": item.key, "attempt": details["tries"], "delay_s": round(details["wait"], 3),
                   "reason": error_class(exc) if exc else None},
        )  # fmt: skip
        sync_type = str(current_fields().get("sync_type", ""))
        metrics.inc("retries_total", sync_type=sync_type, reason=error_class(exc) if exc else "unknown")

    # Writes are retried here and only here (syncsvc/domain/retry.py): the client tries an item's
    # look-ups once, RQ never repeats an item failure.
    @backoff.on_exception(
        backoff.expo, Exception, max_tries=settings.max_attempts, factor=settings.retry_base_s,
        max_value=settings.retry_max_s, giveup=lambda exc: stop.is_set() or not is_retryable(exc), logger=None,
        on_backoff=log_retry,
    )  # fmt: skip
    def attempt() -> Done:
        if stop.is_set():
            raise RunAborted("run stopped before this item finished")
        item.state.attempts += 1
        return handler(plan, item.state)

    return attempt()


class Engine:
    def __init__(self, settings: Settings, control: RunControl, recorder: Recorder) -> None:
        self.settings = settings
        self.control = control
        self.recorder = recorder
        self.stop = threading.Event()

    def run(self, items: list[Item], handler: Handler) -> RunResult:
        """Process every item. Every outcome goes to the recorder (history) as it happens; only the
        counts and the failures are kept here, so memory doesn't grow with successful items."""
        counters = self.control.track(len(items))
        failed: dict[str, ItemRecord] = {}
        retryable: set[str] = set()  # failed items another round may still fix
        settled: set[str] = set()

        def settle(item: Item, record: ItemRecord, exc: BaseException | None = None) -> None:
            settled.add(item.key)
            if exc is not None and is_retryable(exc):
                retryable.add(item.key)
            else:
                retryable.discard(item.key)
            counters.add(record.outcome)
            self.recorder.add(record)
            if record.outcome == "failed":
                failed[item.key] = record
                log.warning(
                    "item %s failed after %d attempt(s): %s: %s", item.key, record.attempts, record.error_class,
                    record.message, extra={"key": item.key, "attempts": record.attempts,
                                           "error_class": record.error_class, "reason": record.message},
                )  # fmt: skip
            else:
                failed.pop(item.key, None)

        for item in items:
            if item.gone is not None:
                settle(item, ItemRecord(item.key, "gone", kind=item.kind, message=item.gone, finished_at=utcnow()))
            elif item.plan is None:
                settle(item, _record(item, None, item.error or PermanentError("item could not be mapped")))
            elif item.unchanged is not None:
                # An unchanged re-sync is mostly these: a pool round trip each cost more than the
                # decision itself (the handler's skip is the same digest comparison).
                settle(item, _record(item, Done("skipped", item.unchanged), None))
        pending = [i for i in items if i.plan is not None and i.unchanged is None]
        batches = (len(pending) + self.settings.batch_size - 1) // self.settings.batch_size
        self.control.set_phase(self.control.phase, batches=batches)
        abort: BaseException | None = None
        for round_no in range(self.settings.retry_rounds + 1):
            if not pending or abort is not None:
                break
            if round_no:
                pause = min(self.settings.retry_max_s, self.settings.retry_base_s * 2 ** (round_no + 1))
                log.info(
                    "retry round %d for %d items after %.1f s", round_no, len(pending), pause,
                    extra={"retry_round": round_no, "items": len(pending), "delay_s": pause},
                )  # fmt: skip
                self.control.set_phase(self.control.phase, retryRound=round_no)
                time.sleep(pause)
                for _item in pending:  # their failed outcome is replaced by this round's
                    counters.undo("failed")
            abort = self._round(pending, handler, settle)
            pending = [i for i in pending if i.key in retryable]
        if abort is not None:
            for item in items:
                if item.key not in settled:
                    settle(item, _record(item, None, RunAborted(f"not attempted: run aborted ({abort})")))
        self.recorder.flush()
        self.control.tick(force=True)
        if abort is not None:
            raise abort
        return RunResult(counters.snapshot(), failed)

    def _round(
        self, items: list[Item], handler: Handler, settle: Callable[[Item, ItemRecord, BaseException | None], None]
    ) -> BaseException | None:
        abort: BaseException | None = None
        in_flight: dict[Future[Done], Item] = {}
        queue = iter(items)
        limit = self.settings.pool_size * 2  # enough to keep every thread busy, no more
        pool = ThreadPoolExecutor(max_workers=self.settings.pool_size, thread_name_prefix="sync")
        try:
            while True:
                while len(in_flight) < limit and abort is None and not self.stop.is_set():
                    item = next(queue, None)
                    if item is None:
                        break
                    # Each call runs in a copy of this context: log lines keep the run's fields.
                    call = contextvars.copy_context().run
                    in_flight[pool.submit(call, _attempt_item, item, handler, self.settings, self.stop)] = item
                if not in_flight:
                    break
                done, _ = wait(in_flight, timeout=self.control.every_s, return_when=FIRST_COMPLETED)
                for future in done:
                    item = in_flight.pop(future)
                    exc = future.exception()
                    if exc is not None and is_systemic(exc):
                        if abort is None:
                            abort = exc
                            self.stop.set()  # other threads finish their current call and stop
                        continue  # recorded by run() as not attempted
                    settle(item, _record(item, None if exc else future.result(), exc), exc)
                self.control.tick()
        except BaseException as exc:
            # Job timeout (raised in this thread by RQ) or interrupt: don't wait for the queue.
            self.stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            self.recorder.flush()
            raise exc
        pool.shutdown(wait=True)
        return abort


def mark_unchanged(items: list[Item], unchanged: Callable[[str, str], int | None]) -> int:
    """Mark the items whose record Luca already holds as planned (``IdCache.unchanged``); returns
    how many. Called by prepare right after the cache snapshot is read."""
    marked = 0
    for item in items:
        if item.plan is not None and item.gone is None:
            item.unchanged = unchanged(item.key, item.plan.digest)
            marked += item.unchanged is not None
    return marked
