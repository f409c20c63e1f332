"""Per-record upserts: make one Luca record true, idempotently.

The rules (DESIGN §4): the cache (warmed from Luca at the start of the run) says whether the
record exists; "already exists" from Luca means adopt; after an attempt whose create may have
been committed (``state.create_sent``) the record is looked up by its natural key before any new
create. Creates of one key are serialised across runs and hosts (:meth:`IdCache.creating`), because
Luca has no uniqueness guard for cari and invoices and two sync types may need the same record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobs.engine import Done, ItemState
from syncsvc.clients.luca import LucaClient
from syncsvc.domain.drift import create_diff, drift
from syncsvc.domain.errors import AlreadyExists, ReplyTimeout, TransientError
from syncsvc.domain.model import Plan
from syncsvc.store.cache import IdCache


@dataclass(frozen=True)
class Kind:
    """How one record kind is found and created in Luca."""

    cache: IdCache
    find: Callable[[str], int | None]
    create: Callable[[Any], int]
    key_name: str


def _recover_lost_create(kind: Kind, plan: Plan, state: ItemState) -> Done | None:
    """After an attempt whose create may have been committed, look the record up by its natural
    key before anything is sent again. Found = our create went through; record it, don't resend."""
    if not state.create_sent:
        return None
    wait = state.settle_until - time.monotonic()
    if wait > 0:  # a timed-out create may still commit: "not found" is only true after this
        time.sleep(wait)
    luca_id = kind.find(plan.key)
    if luca_id is None:
        return None
    kind.cache.put(plan.key, luca_id, plan.digest)
    return Done("created", luca_id, f"reply was lost; found by {kind.key_name}, not re-sent")


def _json(diff: dict[str, Any]) -> str:
    return json.dumps(diff, ensure_ascii=False, sort_keys=True, default=str)


@dataclass
class Upserts:
    luca: LucaClient
    cards: IdCache
    customers: IdCache
    invoices: IdCache
    dry_run: bool = False
    run_id: str = ""
    # Seconds a timed-out create may still commit (Settings.luca_write_settle_s).
    settle_s: float = 0.0
    # Called before every Luca write; raises RunAborted once this run no longer holds its run lock.
    guard: Callable[[], None] = lambda: None

    def __post_init__(self) -> None:
        # Late-bound: nothing touches the client until a record really needs it.
        luca = self.luca
        self.card_kind = Kind(
            self.cards, lambda k: luca.find_stock_card(k), lambda p: luca.create_stock_card(p), "code"
        )
        self.customer_kind = Kind(
            self.customers, lambda k: luca.find_customer(k), lambda p: luca.create_customer(p), "code"
        )
        self.invoice_kind = Kind(
            self.invoices, lambda k: luca.find_invoice(k), lambda p: luca.create_invoice(p), "belgeTakipNo"
        )

    def _existing_or_create(
        self, kind: Kind, plan: Plan, state: ItemState
    ) -> tuple[Done | None, int | None, str | None]:
        luca_id, digest = kind.cache.lookup(plan.key)
        if luca_id is not None:
            return None, luca_id, digest
        recovered = _recover_lost_create(kind, plan, state)
        if recovered is not None:
            return recovered, None, None
        if self.dry_run:
            return Done("created", None, "dry run: would create", diff=_json(create_diff(plan.payload))), None, None
        return self._create(kind, plan, state)

    def _create(self, kind: Kind, plan: Plan, state: ItemState) -> tuple[Done | None, int | None, str | None]:
        """Create the record unless somebody already has. Returns (done, existing id, its digest):
        ``done`` when we created it, else the record found meanwhile (digest None = content unknown)."""
        with kind.cache.creating(plan.key, self.run_id) as claim:
            if claim.luca_id is not None:  # created meanwhile by another run, which cached it
                return None, claim.luca_id, claim.digest
            if claim.must_look_up:
                found = kind.find(plan.key)
                if found is not None:
                    claim.record(found, None)
                    return None, found, None
            self.guard()
            state.create_sent = True
            try:
                new_id = kind.create(plan.payload)
            except ReplyTimeout:
                # Luca may commit it after we gave up: our retry waits before looking it up, and
                # the claim keeps other runs out for as long.
                state.settle_until = time.monotonic() + self.settle_s
                claim.hold_s = self.settle_s
                raise
            claim.record(new_id, plan.digest)
            return Done("created", new_id), None, None

    # -- stock cards (create or update) ----------------------------------------------------

    def stock_card(self, plan: Plan, state: ItemState) -> Done:
        try:
            done, luca_id, known_digest = self._existing_or_create(self.card_kind, plan, state)
        except AlreadyExists:
            return self._adopt_card(plan)
        if done is not None:
            return done
        assert luca_id is not None
        if known_digest == plan.digest:
            return Done("skipped", luca_id)
        if self.dry_run:
            outcome = "updated" if known_digest else "adopted"
            return Done(outcome, luca_id, "dry run: would update", diff=self._card_changes(plan))
        # Unknown digest (cache lost, or created outside this service): we can't know what Luca
        # holds, so we write what Katana says. An update is idempotent.
        self.guard()
        self.luca.update_stock_card(luca_id, plan.payload)
        self.cards.put(plan.key, luca_id, plan.digest)
        return Done("updated" if known_digest else "adopted", luca_id)

    def _card_changes(self, plan: Plan) -> str:
        """Dry runs: the fields an update would change, read from Luca's list (one request)."""
        row = self.luca.stock_card_row(plan.key)
        return _json(drift("stockcard", plan.payload, row) if row is not None else create_diff(plan.payload))

    def _adopt_card(self, plan: Plan) -> Done:
        luca_id, digest = self.cards.fresh(plan.key)
        if luca_id is not None and digest == plan.digest:
            return Done("adopted", luca_id, "created meanwhile by another run, same content")
        found = self.luca.find_stock_card(plan.key)
        if found is None:
            raise TransientError(f"Luca says code {plan.key} is taken but does not list it")
        self.guard()
        self.luca.update_stock_card(found, plan.payload)
        self.cards.put(plan.key, found, plan.digest)
        return Done("adopted", found, "already in Luca; updated to match Katana")

    # -- customers (create only: Luca offers no cari update) --------------------------------

    def customer(self, plan: Plan, state: ItemState) -> Done:
        try:
            done, luca_id, known_digest = self._existing_or_create(self.customer_kind, plan, state)
        except AlreadyExists:  # only with the tenant's optional cari-code guard
            found = self.luca.find_customer(plan.key)
            if found is None:
                raise TransientError(f"Luca says cari {plan.key} exists but does not list it") from None
            self.customers.put(plan.key, found, plan.digest)
            return Done("adopted", found)
        if done is not None:
            if done.outcome == "created" and plan.label.startswith("no tax id"):
                return Done(done.outcome, done.luca_id, done.message or plan.label, diff=done.diff)
            return done
        assert luca_id is not None
        if known_digest is None:
            if not self.dry_run:
                self.customers.put(plan.key, luca_id, plan.digest)
            return Done("adopted", luca_id)
        if known_digest != plan.digest:
            return Done("skipped", luca_id, "changed in Katana, but Luca has no cari update action")
        return Done("skipped", luca_id)

    # -- invoices (documents: immutable once posted, no server-side de-dup) ------------------

    def invoice(self, plan: Plan, state: ItemState) -> Done:
        # Lost replies are looked up by belgeTakipNo before any resend: mandatory for documents,
        # which Luca would happily post twice.
        done, luca_id, known_digest = self._existing_or_create(self.invoice_kind, plan, state)
        if done is not None:
            return done
        assert luca_id is not None
        if known_digest is None:
            if not self.dry_run:
                self.invoices.put(plan.key, luca_id, plan.digest)
            return Done("adopted", luca_id, "already posted in Luca")
        if known_digest != plan.digest:
            return Done("skipped", luca_id, "order changed after it was invoiced; posted invoices are not rewritten")
        return Done("skipped", luca_id)
