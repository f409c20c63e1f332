"""Luca simulator rules without HTTP: validation, faults, sessions, paging, encoding."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sandbox.luca.admin import _loopback
from sandbox.luca.config import SwitchError, Switches, update_switches
from sandbox.luca.encoding import MalformedBody, decode_body, store_text
from sandbox.luca.faults import (
    FaultConfig,
    FaultConfigError,
    FaultInjector,
    FaultRule,
    parse_cli_fault,
    parse_config,
)
from sandbox.luca.listing import by_range, envelope, page_request, text
from sandbox.luca.session import SessionStore
from sandbox.luca.state import Store
from sandbox.luca.validation import Invalid, as_int, clean_card, clean_customer, clean_invoice, kdv_percent


@pytest.fixture
def store() -> Store:
    return Store(Switches())


def _card(code: str = "A", **extra: Any) -> dict[str, Any]:
    return {"kartKodu": code, "kartAdi": "Ad", "baslangicTarihi": "01/01/2026", "kartTuru": 1, **extra}


# -- validation ---------------------------------------------------------------------------------
def test_required_fields_are_checked_in_order(store: Store) -> None:
    with pytest.raises(Invalid) as info:
        clean_card({}, store, partial=False)
    assert info.value.message == "[kartKodu] alanı zorunludur."
    with pytest.raises(Invalid) as info:
        clean_card({"kartKodu": "  ", "kartAdi": "x"}, store, partial=False)
    assert info.value.message == "[kartKodu] alanı zorunludur."


@pytest.mark.parametrize("value", ["2026-01-31", "31.01.2026", "1/1/2026", "31/13/2026", 20260131])
def test_dates_must_be_dd_mm_yyyy(store: Store, value: Any) -> None:
    with pytest.raises(Invalid, match="tarih formatı geçersiz"):
        clean_card(_card(baslangicTarihi=value), store, partial=False)


def test_numbers_are_lenient_but_not_bool(store: Store) -> None:
    record = clean_card(
        _card(kartTuru="1", olcumBirimiId=945.0, perakendeSatisBirimFiyat="12.50"), store, partial=False
    )
    assert (record["kartTuru"], record["olcumBirimiId"], record["perakendeSatisBirimFiyat"]) == (1, 945, 12.5)
    with pytest.raises(Invalid):
        as_int(True, "x")
    with pytest.raises(Invalid):
        as_int("1.5", "x")


def test_wrapper_objects_are_malformed(store: Store) -> None:
    with pytest.raises(MalformedBody):
        clean_card({"stkSkart": _card()}, store, partial=False)


def test_partial_update_validates_only_given_fields(store: Store) -> None:
    assert clean_card({"kartAdi": "Yeni"}, store, partial=True) == {"kartAdi": "Yeni"}
    with pytest.raises(Invalid, match="Kategori"):
        clean_card({"kategoriAgacKod": ""}, store, partial=True)


def test_customer_person_and_company_rules() -> None:
    person = clean_customer(
        {"tip": "2", "tanim": "Ali Veli", "kartKod": 5, "paraBirimKod": "EUR", "tcKimlikNo": 12345678901}
        | {"ad": "Ali", "soyad": "Veli"}
    )
    assert person["tip"] == 2 and person["kartKod"] == "5" and person["tcKimlikNo"] == "12345678901"
    with pytest.raises(Invalid, match=r"\[tip\]"):
        clean_customer({"tip": 3, "tanim": "x", "kartKod": "k", "paraBirimKod": "TRY"})


def test_invoice_totals_and_unknown_type(store: Store) -> None:
    store.add_card(clean_card(_card("K1"), store, partial=False))
    store.add_customer(
        clean_customer({"tip": 1, "tanim": "T", "kartKod": "C1", "paraBirimKod": "TRY", "vergiNo": "1" * 10})
    )
    body = {
        "belgeSeri": "EFA2026",
        "belgeTarihi": "05/01/2026",
        "vadeTarihi": "05/02/2026",
        "belgeTurDetayId": 76,
        "cariKodu": "C1",
        "paraBirimKod": "TRY",
        "detayList": [
            {"kartTuru": 1, "kartKodu": "K1", "miktar": "3", "birimFiyat": "2.5", "kdvOran": "0.1"},
            {"kartTuru": 1, "kartKodu": "K1", "miktar": 1, "birimFiyat": 10, "kdvOran": 0},
        ],
    }
    record = clean_invoice(body, store)
    assert (record["netTutar"], record["kdvTutar"], record["tutar"]) == (17.5, 0.75, 18.25)
    assert record["belgeNo"] is None and record["cariTanim"] == "T"
    with pytest.raises(Invalid, match="Belge türü"):
        clean_invoice(body | {"belgeTurDetayId": 999}, store)
    with pytest.raises(Invalid, match="Belge Seri"):
        clean_invoice(body | {"belgeTurDetayId": 69}, store)  # EFA2026 is a sales series


@pytest.mark.parametrize(("rate", "shown"), [(0.2, "%20"), (0.18, "%18"), (0, "%0"), (1, "%1"), (None, None)])
def test_kdv_percent_form(rate: Any, shown: str | None) -> None:
    assert kdv_percent(rate) == shown


# -- store --------------------------------------------------------------------------------------
def test_card_codes_case_rule_and_series_counter(store: Store) -> None:
    store.add_card(clean_card(_card("abc"), store, partial=False))
    assert not store.card_code_taken("ABC")
    store.switches = Switches(card_code_case_insensitive=True)
    assert store.card_code_taken("ABC") and store.card_by_code("ABC") is not None
    line = {"kartKodu": "abc", "skartId": 20011}
    first = store.add_invoice({"belgeSeri": "S", "belgeNo": None, "detayList": [line]})
    chosen = store.add_invoice({"belgeSeri": "S", "belgeNo": 9, "detayList": [line]})
    after = store.add_invoice({"belgeSeri": "S", "belgeNo": None, "detayList": [line]})
    assert (first["belgeNo"], chosen["belgeNo"], after["belgeNo"]) == (1, 9, 10)
    assert store.card_in_use(20011)


# -- faults -------------------------------------------------------------------------------------
def test_cli_fault_specs() -> None:
    assert parse_cli_fault("reset=0.1") == ("reset", FaultRule(probability=0.1))
    assert parse_cli_fault("slow=0.1,every:7") == ("slow", FaultRule(probability=0.1, every=7))
    kind, rule = parse_cli_fault("commit_then_fail=0.2,mode:html,actions:EkleStkWsSkart.do|SilStkSkart")
    assert kind == "commit_then_fail" and rule.mode == "html"
    assert rule.actions == frozenset({"EkleStkWsSkart", "SilStkSkart"})
    for bad in ("reset", "reset=", "meteor=0.1", "reset=often", "reset=every:x", "slow=mode:later"):
        with pytest.raises(FaultConfigError):
            parse_cli_fault(bad)


def test_admin_body_keeps_cli_defaults_for_missing_keys() -> None:
    base = FaultConfig(latency_ms=50, faults={"reset": FaultRule(every=3)})
    config = parse_config({"faults": {}, "seed": 3}, base)
    assert config.latency_ms == 50 and config.faults == {} and config.seed == 3
    with pytest.raises(FaultConfigError):
        parse_config({"latency": 5}, base)
    with pytest.raises(FaultConfigError):
        parse_config({"faults": {"slow": {"every": -1}}}, base)


def test_every_counts_only_eligible_calls_and_exemptions() -> None:
    injector = FaultInjector(FaultConfig(faults={"empty_error": FaultRule(every=2)}))
    calls = ["ListeleStkSkart", "Giris", "GuncelleYtkSirketSubeDegistir", "ListeleStkSkart", "EkleStkWsSkart"]
    fired = [injector.draw(a) for a in calls]
    assert [f.kind if f else None for f in fired] == [None, None, None, "empty_error", None]


def test_commit_then_fail_only_on_writes_and_random_mode_resolves() -> None:
    injector = FaultInjector(FaultConfig(faults={"commit_then_fail": FaultRule(probability=1.0)}))
    assert injector.draw("ListeleStkSkart") is None
    assert injector.draw("GuncelleYtkSirketSubeDegistir") is None
    modes = {fault.mode for fault in (injector.draw("EkleFtrWsFaturaBaslik") for _ in range(30)) if fault}
    assert modes == {"html", "reset", "timeout"}


def test_priority_when_several_fire() -> None:
    rules = {"slow": FaultRule(every=1), "reset": FaultRule(every=1), "empty_error": FaultRule(every=1)}
    fault = FaultInjector(FaultConfig(faults=rules)).draw("ListeleStkSkart")
    assert fault is not None and fault.kind == "reset"


def test_jitter_stays_within_bounds() -> None:
    injector = FaultInjector(FaultConfig(latency_ms=100, jitter_ms=20))
    samples = [injector.latency_seconds() for _ in range(200)]
    assert 0.08 <= min(samples) < max(samples) <= 0.12


# -- sessions -----------------------------------------------------------------------------------
def test_session_lookup_reasons() -> None:
    sessions = SessionStore(ttl_seconds=0.2)
    session = sessions.issue(("1", "demo"), single_session_per_user=True)
    assert sessions.lookup(session.sid, session.nsc).reason == "ok"
    assert sessions.lookup(None, None).reason == "missing"
    wrong = sessions.lookup(session.sid, None)
    assert wrong.reason == "wrong_node" and wrong.node != session.node
    assert sessions.lookup("nope!123", session.nsc).reason == "unknown"
    time.sleep(0.3)
    assert sessions.lookup(session.sid, session.nsc).reason == "expired"


def test_single_session_per_user_and_failed_logins() -> None:
    sessions = SessionStore(ttl_seconds=60)
    first = sessions.issue(("1", "demo"), single_session_per_user=False)
    second = sessions.issue(("1", "demo"), single_session_per_user=False)
    assert sessions.lookup(first.sid, first.nsc).session is not None
    third = sessions.issue(("1", "demo"), single_session_per_user=True)
    assert sessions.lookup(first.sid, first.nsc).session is None
    assert sessions.lookup(second.sid, second.nsc).session is None
    assert sessions.lookup(third.sid, third.nsc).session is not None
    failed = sessions.issue(None, single_session_per_user=True)
    assert sessions.lookup(failed.sid, failed.nsc).reason == "unknown"
    assert sessions.lookup(third.sid, third.nsc).session is not None  # a failed login evicts nobody


# -- listing, encoding, config ------------------------------------------------------------------
def test_envelope_paging_math() -> None:
    items = [{"n": i} for i in range(23)]
    page = envelope(items, 3, 10, no_paging=False)
    assert (len(page["list"]), page["size"], page["numberOfPage"]) == (3, 23, 3)
    assert envelope(items, 9, 10, no_paging=False)["list"] == []
    assert len(envelope(items, 2, 10, no_paging=True)["list"]) == 23
    assert envelope([], 1, 10, no_paging=False)["numberOfPage"] == 0
    assert page_request({"pageno": "x"}, {"pageNo": "4"}) == (4, False)
    assert page_request({"no-paging": "TRUE"}, {}) == (1, True)


def test_range_is_lexical_and_inclusive() -> None:
    records = [{"k": k} for k in ("A-1", "A-10", "A-2", "B", "a-1")]
    got = by_range(records, {"kBas": "A-1", "kBit": "A-2", "kOp": "between"}, "k", lambda r: r["k"], text)
    assert [r["k"] for r in got] == ["A-1", "A-10", "A-2"]
    with pytest.raises(MalformedBody):
        by_range(records, {"kBas": "A", "kOp": "like"}, "k", lambda r: r["k"], text)


def test_encoding_round_trip_and_labels() -> None:
    assert store_text("Işık ⌀ Φ Ø") == "Işık ? ? Ø"
    assert decode_body('{"a":"ş"}'.encode("cp1254"), "application/json; charset=windows-1254") == {"a": "ş"}
    assert decode_body(b"", None) == {}
    for raw in (b"[1]", b"null", '{"a":"ş"}'.encode("cp1254")):
        with pytest.raises(MalformedBody):
            decode_body(raw, "application/json")


def test_switch_validation_and_loopback() -> None:
    assert update_switches(Switches(), {"session_ttl": 5}).session_ttl == 5.0
    for bad in ({"page_size": 0}, {"customer_code_unique": "yes"}, {"session_error_code": "1003"}, [1]):
        with pytest.raises(SwitchError):
            update_switches(Switches(), bad)
    assert _loopback("127.0.0.1") and _loopback("::1") and _loopback("::ffff:127.0.0.1")
    assert not _loopback("10.0.0.5") and not _loopback(None)
