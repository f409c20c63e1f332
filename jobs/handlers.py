"""Per-record upserts: make one Luca record true, idempotently.

The rules (DESIGN §4): the cache (warmed from Luca at the start of the run) says whether the
record exists; "already exists" from Luca means adopt; after an attempt whose create may have
been committed (``state.create_sent``) the record is looked up by its natural key before any new
create. Documents (invoices) have no server-side duplicate guard, so for them that look-up is the
only thing standing between a lost reply and a double-posted invoice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from jobs.engine import Done, ItemState
from syncsvc.cache import IdCache
from syncsvc.errors import AlreadyExists, ReplyTimeout, TransientError
from syncsvc.luca import LucaClient
from syncsvc.mapping import Plan


@dataclass
class Upserts:
    luca: LucaClient
    cards: IdCache
    customers: IdCache
    invoices: IdCache
    dry_run: bool = False
    # Called before every Luca write; raises RunAborted when this run no longer holds its run lock.
    guard: Callable[[], None] = lambda: None
    # Seconds a timed-out create may still commit (Settings.luca_write_settle_s).
    settle_s: float = 0.0

    def _created_meanwhile(self, state: ItemState, find: Callable[[], int | None]) -> int | None:
        """The look-up after an ambiguous create, once a timed-out create can no longer land."""
        wait = state.settle_until - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        return find()

    def _send_create(self, state: ItemState, create: Callable[[], int]) -> int:
        self.guard()
        state.create_sent = True
        try:
            return create()
        except ReplyTimeout:
            state.settle_until = time.monotonic() + self.settle_s
            raise

    # -- stock cards (create or update) ----------------------------------------------------

    def stock_card(self, plan: Plan, state: ItemState) -> Done:
        luca_id, known_digest = self.cards.lookup(plan.key)
        created_by_us = False
        if luca_id is None and state.create_sent:
            luca_id = self.luca.find_stock_card(plan.key)
            created_by_us = luca_id is not None  # our earlier create did go through
        if luca_id is None:
            if self.dry_run:
                return Done("created", None, "dry run: would create")
            self.guard()
            state.create_sent = True
            try:
                new_id = self.luca.create_stock_card(plan.payload)
            except AlreadyExists:
                return self._adopt_card(plan)
            self.cards.put(plan.key, new_id, plan.digest)
            return Done("created", new_id)
        if created_by_us:
            self.cards.put(plan.key, luca_id, plan.digest)
            return Done("created", luca_id, "reply was lost; found by code, not re-sent")
        if known_digest == plan.digest:
            return Done("skipped", luca_id)
        if self.dry_run:
            return Done("updated" if known_digest else "adopted", luca_id, "dry run: would update")
        # Unknown digest (cache lost, or created outside this service): we can't know what Luca
        # holds, so we write what Katana says. An update is idempotent.
        self.guard()
        self.luca.update_stock_card(luca_id, plan.payload)
        self.cards.put(plan.key, luca_id, plan.digest)
        return Done("updated" if known_digest else "adopted", luca_id)

    def _adopt_card(self, plan: Plan) -> Done:
        found = self.luca.find_stock_card(plan.key)
        if found is None:
            raise TransientError(f"Luca says code {plan.key} is taken but does not list it")
        self.luca.update_stock_card(found, plan.payload)
        self.cards.put(plan.key, found, plan.digest)
        return Done("adopted", found, "already in Luca; updated to match Katana")

    # -- customers (create only: Luca offers no cari update) --------------------------------

    def customer(self, plan: Plan, state: ItemState) -> Done:
        luca_id, known_digest = self.customers.lookup(plan.key)
        if luca_id is None and state.create_sent:
            luca_id = self._created_meanwhile(state, lambda: self.luca.find_customer(plan.key))
            if luca_id is not None:
                self.customers.put(plan.key, luca_id, plan.digest)
                return Done("created", luca_id, "reply was lost; found by code, not re-sent")
        if luca_id is None:
            if self.dry_run:
                return Done("created", None, "dry run: would create")
            try:
                new_id = self._send_create(state, lambda: self.luca.create_customer(plan.payload))
            except AlreadyExists:
                found = self.luca.find_customer(plan.key)
                if found is None:
                    raise TransientError(f"Luca says cari {plan.key} exists but does not list it") from None
                self.customers.put(plan.key, found, plan.digest)
                return Done("adopted", found)
            self.customers.put(plan.key, new_id, plan.digest)
            return Done("created", new_id, plan.label if plan.label.startswith("no tax id") else None)
        if known_digest is None:
            if not self.dry_run:
                self.customers.put(plan.key, luca_id, plan.digest)
            return Done("adopted", luca_id)
        if known_digest != plan.digest:
            return Done("skipped", luca_id, "changed in Katana, but Luca has no cari update action")
        return Done("skipped", luca_id)

    # -- invoices (documents: immutable once posted, no server-side de-dup) ------------------

    def invoice(self, plan: Plan, state: ItemState) -> Done:
        luca_id, known_digest = self.invoices.lookup(plan.key)
        if luca_id is None and state.create_sent:
            # Mandatory: Luca would happily post the same invoice twice.
            luca_id = self._created_meanwhile(state, lambda: self.luca.find_invoice(plan.key))
            if luca_id is not None:
                self.invoices.put(plan.key, luca_id, plan.digest)
                return Done("created", luca_id, "reply was lost; found by belgeTakipNo, not re-sent")
        if luca_id is None:
            if self.dry_run:
                return Done("created", None, "dry run: would post")
            new_id = self._send_create(state, lambda: self.luca.create_invoice(plan.payload))
            self.invoices.put(plan.key, new_id, plan.digest)
            return Done("created", new_id)
        if known_digest is None:
            if not self.dry_run:
                self.invoices.put(plan.key, luca_id, plan.digest)
            return Done("adopted", luca_id, "already posted in Luca")
        if known_digest != plan.digest:
            return Done("skipped", luca_id, "order changed after it was invoiced; posted invoices are not rewritten")
        return Done("skipped", luca_id)
