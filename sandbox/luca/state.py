"""The tenant's records: stock cards, customers (cari), invoices, and series counters.

All mutation happens under ``lock`` (an RLock so an action can validate and insert in one
critical section: that is what makes duplicate-code checks race-free).
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, defaultdict
from datetime import date
from typing import Any

from sandbox.luca.config import Switches
from sandbox.luca.seed import CATEGORIES, DEPOTS, SERIES, UNITS


def today() -> str:
    return date.today().strftime("%d/%m/%Y")


class Store:
    def __init__(self, switches: Switches) -> None:
        self.lock = threading.RLock()
        self.switches = switches
        self._units = {u["id"] for u in UNITS}
        self._categories = {c["kod"] for c in CATEGORIES}
        self._depots = {d["kod"] for d in DEPOTS}
        self._series = {(s["belgeTurDetayId"], s["seri"]) for s in SERIES}
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.cards: dict[int, dict[str, Any]] = {}
            self.customers: dict[int, dict[str, Any]] = {}
            self.invoices: dict[int, dict[str, Any]] = {}
            self._card_codes: defaultdict[str, list[int]] = defaultdict(list)
            self._card_codes_folded: defaultdict[str, list[int]] = defaultdict(list)
            self._customer_codes: defaultdict[str, list[int]] = defaultdict(list)
            self._card_usage: Counter[int] = Counter()
            self._series_last: dict[str, int] = {}
            # Realistic-looking, distinct id ranges so a client mixing them up gets caught.
            self._card_ids = itertools.count(20011)
            self._customer_ids = itertools.count(310007)
            self._invoice_ids = itertools.count(7700031)

    # -- tenant lookups (validation.Refs) ----------------------------------------------------
    def unit_exists(self, unit_id: int) -> bool:
        return unit_id in self._units

    def category_exists(self, code: str) -> bool:
        return code in self._categories

    def depot_exists(self, code: str) -> bool:
        return code in self._depots

    def series_exists(self, doc_type: int, series: str) -> bool:
        return (doc_type, series) in self._series

    def card_by_code(self, code: str) -> dict[str, Any] | None:
        ids = self._card_ids_for(code)
        return self.cards[ids[0]] if ids else None

    def customer_by_code(self, code: str) -> dict[str, Any] | None:
        ids = self._customer_codes.get(code)
        return self.customers[ids[0]] if ids else None

    def _card_ids_for(self, code: str) -> list[int]:
        if self.switches.card_code_case_insensitive:
            return self._card_codes_folded.get(code.casefold(), [])
        return self._card_codes.get(code, [])

    # -- stock cards -------------------------------------------------------------------------
    def card_code_taken(self, code: str, exclude: int | None = None) -> bool:
        return any(i != exclude for i in self._card_ids_for(code))

    def add_card(self, record: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            card = {**record, "skartId": next(self._card_ids)}
            card.setdefault("eklemeTarihi", today())
            card.setdefault("aktif", 1)
            self.cards[card["skartId"]] = card
            self._index_card(card)
            return card

    def update_card(self, card_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            card = self.cards[card_id]
            self._unindex_card(card)
            card.update(fields)
            card["skartId"] = card_id
            self._index_card(card)
            return card

    def card_in_use(self, card_id: int) -> bool:
        return self._card_usage[card_id] > 0

    def delete_card(self, card_id: int) -> None:
        with self.lock:
            self._unindex_card(self.cards.pop(card_id))

    def _index_card(self, card: dict[str, Any]) -> None:
        code = str(card["kartKodu"])
        self._card_codes[code].append(card["skartId"])
        self._card_codes_folded[code.casefold()].append(card["skartId"])

    def _unindex_card(self, card: dict[str, Any]) -> None:
        code = str(card["kartKodu"])
        for index, key in ((self._card_codes, code), (self._card_codes_folded, code.casefold())):
            index[key].remove(card["skartId"])
            if not index[key]:
                del index[key]

    # -- customers ---------------------------------------------------------------------------
    def customer_code_taken(self, code: str) -> bool:
        return bool(self._customer_codes.get(code))

    def add_customer(self, record: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            customer = {**record, "finansalNesneId": next(self._customer_ids)}
            customer.setdefault("aktifFlag", 1)
            customer.setdefault("eklemeTarihi", today())
            self.customers[customer["finansalNesneId"]] = customer
            self._customer_codes[str(customer["kartKod"])].append(customer["finansalNesneId"])
            return customer

    def delete_customer(self, customer_id: int) -> None:
        with self.lock:
            customer = self.customers.pop(customer_id)
            ids = self._customer_codes[str(customer["kartKod"])]
            ids.remove(customer_id)
            if not ids:
                del self._customer_codes[str(customer["kartKod"])]

    # -- invoices ----------------------------------------------------------------------------
    def add_invoice(self, record: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            series = record["belgeSeri"]
            last = self._series_last.get(series, 0)
            number = record.get("belgeNo") or last + 1
            self._series_last[series] = max(last, number)
            invoice = {**record, "belgeNo": number, "ssFaturaBaslikId": next(self._invoice_ids)}
            self.invoices[invoice["ssFaturaBaslikId"]] = invoice
            for line in invoice["detayList"]:
                self._card_usage[line["skartId"]] += 1
            return invoice

    def delete_invoice(self, invoice_id: int) -> None:
        with self.lock:
            invoice = self.invoices.pop(invoice_id)
            for line in invoice["detayList"]:
                self._card_usage[line["skartId"]] -= 1

    # -- observability -----------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        with self.lock:
            return {
                "stock_cards": {
                    "count": len(self.cards),
                    "duplicate_codes": sorted(c for c, ids in self._card_codes.items() if len(ids) > 1),
                },
                "customers": {
                    "count": len(self.customers),
                    "duplicate_codes": sorted(c for c, ids in self._customer_codes.items() if len(ids) > 1),
                },
                "invoices": {
                    "count": len(self.invoices),
                    "duplicate_tracking_numbers": _duplicates(
                        str(i.get("belgeTakipNo")) for i in self.invoices.values() if i.get("belgeTakipNo")
                    ),
                },
            }


def _duplicates(values: Any) -> list[str]:
    counts = Counter(values)
    return sorted(v for v, n in counts.items() if n > 1)
