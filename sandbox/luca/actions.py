"""The ``/Yetki/<Action>.do`` business handlers: one function per action, JSON in, JSON out.

Session and branch checks, faults and envelopes for non-JSON replies live in :mod:`app`;
a handler only sees a parsed body and returns the Koza payload plus whether it wrote data
(the ``commit_then_fail`` fault needs to know that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.luca import listing
from sandbox.luca.config import Settings, Switches
from sandbox.luca.encoding import MalformedBody
from sandbox.luca.seed import CATEGORIES, DEPOTS, DOCUMENT_TYPES, SERIES, UNITS
from sandbox.luca.session import Session, SessionStore
from sandbox.luca.state import Store
from sandbox.luca.validation import (
    Invalid,
    as_int,
    clean_card,
    clean_customer,
    clean_invoice,
    kdv_percent,
    reject_nested,
    require,
)


@dataclass
class Call:
    store: Store
    sessions: SessionStore
    settings: Settings
    switches: Switches
    session: Session | None
    body: dict[str, Any]
    page_no: int
    no_paging: bool
    detailed: bool


@dataclass
class Outcome:
    payload: dict[str, Any]
    committed: bool = False


def _error(message: str) -> Outcome:
    return Outcome({"error": True, "message": message})


def _list(call: Call, items: list[dict[str, Any]]) -> Outcome:
    return Outcome(listing.envelope(items, call.page_no, call.switches.page_size, call.no_paging))


# -- branches ---------------------------------------------------------------------------------
def list_branches(call: Call) -> Outcome:
    company = call.settings.company
    items = [
        {"ack": f"{company} A.Ş." if i == 0 else f"{company} A.Ş. {b.name}", "id": b.id}
        for i, b in enumerate(call.settings.branches)
    ]
    return _list(call, items)


def select_branch(call: Call) -> Outcome:
    raw = call.body.get("orgSirketSubeId")
    try:
        wanted = str(as_int(raw, "orgSirketSubeId"))
    except Invalid:
        wanted = None
    branch = next((b for b in call.settings.branches if b.id == wanted), None)
    if branch is None or call.session is None:
        return _error("Şirket şube bulunamadı.")
    call.sessions.set_branch(call.session.sid, branch.id)
    return Outcome(
        {
            "@message": "Oturumda Çalıştığınız Şirket Şube Başarıyla Değiştirildi.",
            "@sirketSubeAdi": f"{call.settings.company} - {branch.name}",
        }
    )


# -- tenant lookups ---------------------------------------------------------------------------
def list_units(call: Call) -> Outcome:
    name = listing.sub_filter(call.body, "gnlOlcumBirimi").get("tanim")
    items = [dict(u) for u in UNITS if name in (None, "") or u["tanim"] == name]
    return _list(call, items)


def list_categories(call: Call) -> Outcome:
    kind = call.body.get("kartTuru")
    wanted = None if kind in (None, "") else as_int(kind, "kartTuru")
    items = [{"kod": c["kod"], "tanim": c["tanim"]} for c in CATEGORIES if wanted is None or c["kartTuru"] == wanted]
    return _list(call, items)


def list_depots(call: Call) -> Outcome:
    flt = listing.sub_filter(call.body, "stkDepo")
    items = listing.by_range((dict(d) for d in DEPOTS), flt, "kod", lambda d: d["kod"], listing.text)
    return _list(call, items)


def list_series(call: Call) -> Outcome:
    raw = listing.sub_filter(call.body, "gnlBelgeTurDetay").get("belgeTurDetayId")
    wanted = None if raw in (None, "") else as_int(raw, "belgeTurDetayId")
    items = [dict(s) for s in SERIES if wanted is None or s["belgeTurDetayId"] == wanted]
    return _list(call, items)


def list_document_types(call: Call) -> Outcome:
    items = [
        {"belgeTurDetayId": doc_id, "belgeTurId": parent, "tanim": name}
        for doc_id, (parent, name) in DOCUMENT_TYPES.items()
    ]
    return _list(call, items)


# -- stock cards ------------------------------------------------------------------------------
def create_card(call: Call) -> Outcome:
    store = call.store
    with store.lock:
        record = clean_card(call.body, store, partial=False)
        if store.card_code_taken(record["kartKodu"]):
            return _error("Kart kodu daha önce kullanılmış")
        card = store.add_card(record)
    message = f"{card['kartKodu']} - {card['kartAdi']} stok kartı başarılı bir şekilde kaydedilmiştir."
    return Outcome({"skartId": card["skartId"], "error": False, "message": message}, committed=True)


def update_card(call: Call) -> Outcome:
    store = call.store
    require(call.body, "skartId")
    card_id = as_int(call.body["skartId"], "skartId")
    fields = {k: v for k, v in call.body.items() if k != "skartId"}
    with store.lock:
        if card_id not in store.cards:
            return _error("Stok kartı bulunamadı.")
        record = clean_card(fields, store, partial=True)
        if "kartKodu" in record and store.card_code_taken(record["kartKodu"], exclude=card_id):
            return _error("Kart kodu daha önce kullanılmış")
        store.update_card(card_id, record)
    return Outcome({"error": False, "message": "Stok kartı güncellendi.", "skartId": card_id}, committed=True)


def delete_card(call: Call) -> Outcome:
    store = call.store
    require(call.body, "skartId")
    card_id = as_int(call.body["skartId"], "skartId")
    with store.lock:
        if card_id not in store.cards:
            return _error("Stok kartı bulunamadı.")
        if store.card_in_use(card_id):
            # Cards with movements cannot be hard-deleted (spec F20).
            return _error("Hareket görmüş stok kartı silinemez.")
        store.delete_card(card_id)
    return Outcome({"error": False, "message": "Stok kartı silindi."}, committed=True)


def card_item(card: dict[str, Any]) -> dict[str, Any]:
    """A stock card as ``ListeleStkSkart.do`` shows it: list names differ from create names."""
    return {
        "skartId": card["skartId"],
        "kod": card["kartKodu"],
        "adi": card["kartAdi"],
        "uzunAdi": card.get("uzunAdi"),
        "kartTuru": card.get("kartTuru"),
        "kartTipi": card.get("kartTipi"),
        "olcumBirimiId": card.get("olcumBirimiId"),
        "kategoriAgacKod": card.get("kategoriAgacKod"),
        "barkod": card.get("barkod"),
        "satisKdvOran": kdv_percent(card.get("kartSatisKdvOran")),
        "alisKdvOran": kdv_percent(card.get("kartAlisKdvOran")),
        "perakendeAlisBirimFiyat": card.get("perakendeAlisBirimFiyat"),
        "perakendeSatisBirimFiyat": card.get("perakendeSatisBirimFiyat"),
        "gtipKodu": card.get("gtipKodu"),
        "baslangicTarihi": card.get("baslangicTarihi"),
        "eklemeTarihi": card.get("eklemeTarihi"),
        "aktif": card.get("aktif", 1),
    }


def list_cards(call: Call) -> Outcome:
    flt = listing.sub_filter(call.body, "stkSkart")
    with call.store.lock:
        records = list(call.store.cards.values())
    records = listing.by_range(records, flt, "kod", lambda c: c["kartKodu"], listing.text)
    records = listing.by_range(records, flt, "eklemeTarihi", lambda c: c.get("eklemeTarihi"), listing.day)
    if flt.get("skartId") not in (None, ""):
        wanted = as_int(flt["skartId"], "skartId")
        records = [c for c in records if c["skartId"] == wanted]
    if flt.get("kod") not in (None, ""):
        records = [c for c in records if c["kartKodu"] == str(flt["kod"])]
    return _list(call, [card_item(c) for c in records])


# -- customers (cari) -------------------------------------------------------------------------
def create_customer(call: Call) -> Outcome:
    store = call.store
    with store.lock:
        record = clean_customer(call.body)
        if call.switches.customer_code_unique and store.customer_code_taken(record["kartKod"]):
            return _error("Cari kodu daha önce kullanılmış")
        customer = store.add_customer(record)
    return Outcome(
        {
            "error": False,
            "message": "Cari kart kaydedildi.",
            "finansalNesneId": customer["finansalNesneId"],
            "kod": customer["kartKod"],
        },
        committed=True,
    )


def customer_item(customer: dict[str, Any]) -> dict[str, Any]:
    item = {
        "finansalNesneId": customer["finansalNesneId"],
        "kod": customer["kartKod"],
        "tanim": customer.get("tanim"),
        "tip": customer.get("tip"),
        "vergiNo": customer.get("vergiNo"),
        "tcKimlikNo": customer.get("tcKimlikNo"),
        "paraBirimKod": customer.get("paraBirimKod"),
    }
    for extra in ("kisaAd", "yasalUnvan", "ad", "soyad", "cariTipId", "kategoriKod", "vergiDairesiId"):
        item[extra] = customer.get(extra)
    item["aktifFlag"] = customer.get("aktifFlag", 1)
    return item


def list_customers(call: Call) -> Outcome:
    flt = listing.sub_filter(call.body, "finMusteri", "gnlFinansalNesne")
    with call.store.lock:
        records = list(call.store.customers.values())
    records = listing.by_range(records, flt, "kod", lambda c: c["kartKod"], listing.text)
    return _list(call, [customer_item(c) for c in records])


# -- invoices ---------------------------------------------------------------------------------
def create_invoice(call: Call) -> Outcome:
    store = call.store
    with store.lock:
        # No duplicate guard on belgeTakipNo (or anything else): Koza has none (F19).
        invoice = store.add_invoice(clean_invoice(call.body, store))
    return Outcome(
        {
            "error": False,
            "message": "Fatura kaydedildi.",
            "ssFaturaBaslikId": invoice["ssFaturaBaslikId"],
            "belgeNo": invoice["belgeNo"],
        },
        committed=True,
    )


def delete_invoice(call: Call) -> Outcome:
    require(call.body, "ssFaturaBaslikId")
    invoice_id = as_int(call.body["ssFaturaBaslikId"], "ssFaturaBaslikId")
    with call.store.lock:
        if invoice_id not in call.store.invoices:
            return _error("Fatura bulunamadı.")
        call.store.delete_invoice(invoice_id)
    return Outcome({"error": False, "message": "Fatura silindi."}, committed=True)


_INVOICE_FIELDS = (
    "ssFaturaBaslikId",
    "belgeSeri",
    "belgeNo",
    "belgeTakipNo",
    "belgeTarihi",
    "vadeTarihi",
    "belgeTurDetayId",
    "belgeAciklama",
    "cariKodu",
    "cariTanim",
    "paraBirimKod",
    "kurBedeli",
    "netTutar",
    "kdvTutar",
    "tutar",
)


def invoice_item(invoice: dict[str, Any], detailed: bool) -> dict[str, Any]:
    item = {name: invoice.get(name) for name in _INVOICE_FIELDS}
    item["belgeTurDetayTanim"] = DOCUMENT_TYPES[invoice["belgeTurDetayId"]][1]
    if detailed:
        item["detayList"] = [dict(line) for line in invoice["detayList"]]
    return item


def list_invoices(call: Call) -> Outcome:
    flt = listing.sub_filter(call.body, "ftrSsFaturaBaslik", "gnlOrgSsBelge")
    with call.store.lock:
        records = list(call.store.invoices.values())
    parent = call.body.get("parUstHareketTuru")
    if parent not in (None, ""):
        wanted = as_int(parent, "parUstHareketTuru")
        records = [r for r in records if DOCUMENT_TYPES[r["belgeTurDetayId"]][0] == wanted]
    sub_type = call.body.get("parAltHareketTuru")
    if sub_type not in (None, ""):
        wanted = as_int(sub_type, "parAltHareketTuru")
        records = [r for r in records if r["belgeTurDetayId"] == wanted]
    records = listing.by_range(records, flt, "belgeTakipNo", lambda r: r.get("belgeTakipNo"), listing.text)
    records = listing.by_range(records, flt, "belgeNo", lambda r: r["belgeNo"], listing.integer)
    records = listing.by_range(records, flt, "belgeTarihi", lambda r: r["belgeTarihi"], listing.day)
    return _list(call, [invoice_item(r, call.detailed) for r in records])


# -- registry ---------------------------------------------------------------------------------
Handler = Callable[[Call], Outcome]


@dataclass(frozen=True)
class Action:
    handler: Handler
    needs_branch: bool = True
    flat: bool = False  # a Ws create/update: wrapper objects in the body are malformed


ACTIONS: dict[str, Action] = {
    "YdlUserResponsibilityOrgSs": Action(list_branches, needs_branch=False),
    "GuncelleYtkSirketSubeDegistir": Action(select_branch, needs_branch=False),
    "ListeleGnlOlcumBirimi": Action(list_units),
    "ListeleStkSkartKategoriAgac": Action(list_categories),
    "ListeleStkDepo": Action(list_depots),
    "ListeleGnlOrgSsSeri": Action(list_series),
    "ListeleGnlBelgeTurDetay": Action(list_document_types),
    "EkleStkWsSkart": Action(create_card, flat=True),
    "GuncelleStkWsSkart": Action(update_card, flat=True),
    "SilStkSkart": Action(delete_card),
    "ListeleStkSkart": Action(list_cards),
    "EkleFinMusteriWS": Action(create_customer, flat=True),
    "ListeleFinMusteri": Action(list_customers),
    "EkleFtrWsFaturaBaslik": Action(create_invoice, flat=True),
    "ListeleFtrSsFaturaBaslik": Action(list_invoices),
    "SilFtrWsFaturaBaslik": Action(delete_invoice),
}


def run(action: Action, call: Call) -> Outcome:
    """Run a handler, mapping validation failures to Koza's ``{"error":true,…}`` envelopes."""
    try:
        if action.flat:
            reject_nested(call.body)
        return action.handler(call)
    except Invalid as exc:
        return _error(exc.message)
    except MalformedBody:
        return Outcome({"error": True})
