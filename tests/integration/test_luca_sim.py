"""Luca simulator over loopback HTTP: sessions, envelopes, validation, lists, admin views."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.testing import Sandbox
from tests.integration.luca_client import LucaClient, card, company, invoice


@pytest.fixture
def luca(sandbox_session: Sandbox) -> Sandbox:
    # Only the Luca side is reset: these tests do not depend on the Katana simulator.
    sandbox_session.admin("luca", "POST", "reset", {})
    return sandbox_session


@pytest.fixture
def anon(luca: Sandbox) -> Iterator[LucaClient]:
    client = LucaClient(luca.luca_url)
    yield client
    client.close()


@pytest.fixture
def client(anon: LucaClient) -> LucaClient:
    return anon.ready()


# -- login and sessions -------------------------------------------------------------------------
def test_login_success_sets_both_cookies(anon: LucaClient) -> None:
    resp = anon.post("Giris", {"orgCode": "1234567", "userName": "demo", "userPassword": "demo-luca-pass"})
    assert resp.json() == {"code": 0, "message": "Oturum başlatıldı."}
    cookies = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookies and "Path=/" in cookies
    jsession = anon.http.cookies["JSESSIONID"]
    token, _, node = jsession.rpartition("!")
    assert token and int(node)
    assert anon.http.cookies["NSC_Lpab_IUUQT_443"]


def test_wrong_password_still_sets_cookies_but_no_session(anon: LucaClient) -> None:
    assert anon.login(password="wrong") == {"code": 99, "message": "Kullanıcı-Parola Bilgisi Yanlış!"}
    assert "JSESSIONID" in anon.http.cookies and "NSC_Lpab_IUUQT_443" in anon.http.cookies
    assert anon.call("ListeleStkSkart")["code"] == 1001


def test_not_logged_in_codes_by_action(anon: LucaClient) -> None:
    assert anon.call("ListeleStkSkart") == {"code": 1001, "message": "Login olunmalı."}
    assert anon.call("EkleStkWsSkart", card("A"))["code"] == 1001
    assert anon.call("YdlUserResponsibilityOrgSs") == {"code": 1002, "message": "Login olunmalı."}
    assert anon.call("GuncelleYtkSirketSubeDegistir", {"orgSirketSubeId": 11746})["code"] == 1002


def test_session_error_code_switch(luca: Sandbox, anon: LucaClient) -> None:
    luca.admin("luca", "POST", "config", {"session_error_code": "alternate"})
    codes = {anon.call("ListeleStkSkart")["code"] for _ in range(4)}
    assert codes == {1001, 1002}


def test_branch_must_be_selected(anon: LucaClient) -> None:
    anon.login()
    assert anon.call("ListeleStkSkart") == {"code": 1003, "message": "Şirket Şube seçimi yapılmalı."}
    branches = anon.call("YdlUserResponsibilityOrgSs")
    assert branches["code"] == 0 and branches["size"] == 1 and branches["numberOfPage"] == 1
    assert branches["list"][0]["id"] == "11746" and branches["list"][0]["ack"].endswith("A.Ş.")
    assert branches["message"] == "1 adet kayıt bulundu."
    assert anon.call("GuncelleYtkSirketSubeDegistir", {"orgSirketSubeId": 999}) == {
        "error": True,
        "message": "Şirket şube bulunamadı.",
    }
    changed = anon.call("GuncelleYtkSirketSubeDegistir", {"orgSirketSubeId": "11746"})
    assert changed["@message"] == "Oturumda Çalıştığınız Şirket Şube Başarıyla Değiştirildi."
    assert changed["@sirketSubeAdi"].endswith(" - Merkez") and "code" not in changed
    assert anon.call("ListeleStkSkart")["code"] == 0


def test_missing_balancer_cookie_lands_on_a_node_without_the_session(client: LucaClient) -> None:
    nsc = client.http.cookies["NSC_Lpab_IUUQT_443"]
    del client.http.cookies["NSC_Lpab_IUUQT_443"]
    assert client.call("ListeleStkSkart")["code"] == 1002
    client.http.cookies.set("NSC_Lpab_IUUQT_443", nsc)
    assert client.call("ListeleStkSkart")["code"] == 0  # the owning node still has it


def test_login_page_and_unknown_action_are_html(anon: LucaClient) -> None:
    page = anon.http.get(f"{anon.base_url}/Yetki/Giris.do", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "Koza Projesi" in page.text and "girisForm.captchaInput" in page.text
    struts = anon.post("EkleStkWsKart", card("A"))
    assert struts.status_code == 200 and struts.headers["Content-Type"].startswith("text/html")
    assert "Unable to instantiate Action" in struts.text


def test_session_ttl_is_idle_and_refreshed(luca: Sandbox, client: LucaClient) -> None:
    import time

    luca.admin("luca", "POST", "config", {"session_ttl": 0.6})
    for _ in range(3):  # activity keeps it alive past one TTL
        time.sleep(0.3)
        assert client.call("ListeleStkSkart")["code"] == 0
    time.sleep(0.8)
    assert client.call("ListeleStkSkart")["code"] == 1001


# -- stock cards --------------------------------------------------------------------------------
def test_stock_card_create_duplicate_update(client: LucaClient) -> None:
    created = client.call("EkleStkWsSkart", card("HM-001", "Sac Levha"))
    assert created["error"] is False and isinstance(created["skartId"], int)
    assert created["message"] == "HM-001 - Sac Levha stok kartı başarılı bir şekilde kaydedilmiştir."
    assert client.call("EkleStkWsSkart", card("HM-001")) == {
        "error": True,
        "message": "Kart kodu daha önce kullanılmış",
    }
    assert client.call("EkleStkWsSkart", card("hm-001"))["error"] is False  # exact match by default
    other = client.call("EkleStkWsSkart", card("HM-002"))["skartId"]
    updated = client.call("GuncelleStkWsSkart", {"skartId": str(created["skartId"]), "kartAdi": "Sac 2mm"})
    assert updated == {"error": False, "message": "Stok kartı güncellendi.", "skartId": created["skartId"]}
    assert client.call("GuncelleStkWsSkart", {"skartId": other, "kartKodu": "HM-001"})["message"] == (
        "Kart kodu daha önce kullanılmış"
    )
    assert client.call("GuncelleStkWsSkart", {"skartId": 1, "kartAdi": "x"}) == {
        "error": True,
        "message": "Stok kartı bulunamadı.",
    }
    listed = client.call("ListeleStkSkart", {"stkSkart": {"kodBas": "HM-001", "kodBit": "HM-001", "kodOp": "between"}})
    assert [(i["kod"], i["adi"]) for i in listed["list"]] == [("HM-001", "Sac 2mm")]


def test_card_code_case_insensitive_switch(luca: Sandbox, client: LucaClient) -> None:
    luca.admin("luca", "POST", "config", {"card_code_case_insensitive": True})
    assert client.call("EkleStkWsSkart", card("AbC"))["error"] is False
    assert client.call("EkleStkWsSkart", card("abc"))["message"] == "Kart kodu daha önce kullanılmış"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kartKodu": "X", "baslangicTarihi": "01/01/2026", "kartTuru": 1}, "[kartAdi] alanı zorunludur."),
        ({"kartKodu": "X", "kartAdi": "x", "kartTuru": 1}, "[baslangicTarihi] alanı zorunludur."),
        (card("X", baslangicTarihi="2026-01-31"), "[baslangicTarihi] tarih formatı geçersiz (gg/AA/yyyy)."),
        (card("X", baslangicTarihi="31/02/2026"), "[baslangicTarihi] tarih formatı geçersiz (gg/AA/yyyy)."),
        (card("X", kartTuru=3), "[kartTuru] geçersiz (1: stok, 2: hizmet)."),
        (card("X", olcumBirimiId=5), "Ölçü birimi bulunamadı."),
        (card("X", kategoriAgacKod="999"), "Kategori bulunamadı."),
    ],
)
def test_stock_card_validation(client: LucaClient, body: dict[str, Any], message: str) -> None:
    assert client.call("EkleStkWsSkart", body) == {"error": True, "message": message}


def test_stock_card_lenient_numbers_and_lookups(client: LucaClient) -> None:
    body = card("L-1", kartTuru="2", olcumBirimiId="13424", kategoriAgacKod="001.01", kartSatisKdvOran=0.2)
    assert client.call("EkleStkWsSkart", body)["error"] is False
    assert client.call("EkleStkWsSkart", card("L-2", kategoriAgacKod=None, kartAlisKdvOran=0.1))["error"] is False
    items = {i["kod"]: i for i in client.call("ListeleStkSkart", headers={"No-Paging": "true"})["list"]}
    assert items["L-1"]["kartTuru"] == 2 and items["L-1"]["olcumBirimiId"] == 13424
    assert items["L-1"]["satisKdvOran"] == "%20" and items["L-2"]["alisKdvOran"] == "%10"
    assert items["L-1"]["aktif"] == 1


def test_text_is_stored_through_windows_1254(luca: Sandbox, client: LucaClient) -> None:
    client.call("EkleStkWsSkart", card("ÇŞ-1", "Çelik Mil ⌀12 Φ şığ"))
    item = client.call("ListeleStkSkart")["list"][0]
    assert item["kod"] == "ÇŞ-1" and item["adi"] == "Çelik Mil ?12 ? şığ"
    assert luca.admin("luca", "GET", "stock_cards")["records"][0]["kartAdi"] == "Çelik Mil ?12 ? şığ"


def test_iso_8859_9_labelled_body_is_decoded(client: LucaClient) -> None:
    raw = '{"kartKodu":"ENC","kartAdi":"Şeker","baslangicTarihi":"01/01/2026","kartTuru":1}'.encode("cp1254")
    resp = client.http.post(
        f"{client.base_url}/Yetki/EkleStkWsSkart.do",
        data=raw,
        headers={"Content-Type": "application/json; charset=ISO-8859-9"},
        timeout=5,
    )
    assert resp.json()["message"].startswith("ENC - Şeker")


def test_malformed_and_wrapped_bodies_get_bare_error(client: LucaClient) -> None:
    resp = client.http.post(
        f"{client.base_url}/Yetki/EkleStkWsSkart.do",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert resp.json() == {"error": True}
    assert client.call("EkleStkWsSkart", {"stkSkart": card("W")}) == {"error": True}
    assert client.call("EkleStkWsSkart", [card("W")]) == {"error": True}
    assert client.call("ListeleStkSkart", {"stkSkart": "x"}) == {"error": True}


def test_list_paging_and_code_range(luca: Sandbox, client: LucaClient) -> None:
    records = [card(f"P-{i:03d}") for i in range(25)]
    assert luca.admin("luca", "POST", "seed/stock_cards", {"records": records})["inserted"] == 25
    first = client.call("ListeleStkSkart")
    assert (len(first["list"]), first["size"], first["numberOfPage"]) == (10, 25, 3)
    assert first["message"] == "25 adet kayıt bulundu."
    third = client.call("ListeleStkSkart", headers={"pageNo": "3"})
    assert [i["kod"] for i in third["list"]] == [f"P-{i:03d}" for i in range(20, 25)]
    second = client.call("ListeleStkSkart", params={"pageNo": 2})
    assert second["list"][0]["kod"] == "P-010"
    everything = client.call("ListeleStkSkart", headers={"No-Paging": "true"})
    assert len(everything["list"]) == 25 and everything["size"] == 25
    ranged = client.call(
        "ListeleStkSkart",
        {"stkSkart": {"kodBas": "P-005", "kodBit": "P-012", "kodOp": "between"}},
        headers={"No-Paging": "true"},
    )
    assert [i["kod"] for i in ranged["list"]] == [f"P-{i:03d}" for i in range(5, 13)]
    luca.admin("luca", "POST", "config", {"page_size": 7})
    assert len(client.call("ListeleStkSkart")["list"]) == 7


def test_delete_card_refused_when_used(client: LucaClient) -> None:
    used = client.call("EkleStkWsSkart", card("U-1"))["skartId"]
    free = client.call("EkleStkWsSkart", card("U-2"))["skartId"]
    client.call("EkleFinMusteriWS", company("CK-1"))
    assert client.call("EkleFtrWsFaturaBaslik", invoice("CK-1", "U-1"))["error"] is False
    assert client.call("SilStkSkart", {"skartId": used})["error"] is True
    assert client.call("SilStkSkart", {"skartId": free}) == {"error": False, "message": "Stok kartı silindi."}
    assert client.call("ListeleStkSkart")["size"] == 1


# -- lookups ------------------------------------------------------------------------------------
def test_tenant_lookups(client: LucaClient) -> None:
    units = client.call("ListeleGnlOlcumBirimi", headers={"No-Paging": "true"})
    by_name = {u["tanim"]: u["id"] for u in units["list"]}
    assert by_name["Adet"] == 945 and by_name["Kg"] == 2 and by_name["Litre"] == 13424 and by_name["Koli"] == 12790
    assert units["size"] > 10 and len(client.call("ListeleGnlOlcumBirimi")["list"]) == 10  # paged
    cats = [
        c["kod"]
        for c in client.call("ListeleStkSkartKategoriAgac", {"kartTuru": 1}, headers={"No-Paging": "true"})["list"]
    ]
    assert {"001", "001.01", "002", "002.01", "150", "153", "BORON"} <= set(cats)
    depots = {d["kod"]: d for d in client.call("ListeleStkDepo", headers={"No-Paging": "true"})["list"]}
    assert {"001", "002", "001.001.0001"} <= set(depots) and isinstance(depots["001"]["depoId"], int)
    series = client.call("ListeleGnlOrgSsSeri", {"gnlBelgeTurDetay": {"belgeTurDetayId": 76}})["list"]
    assert {s["seri"] for s in series} == {"EFA2025", "EFA2026", "IZM2025"}


# -- customers ----------------------------------------------------------------------------------
def test_customers_have_no_code_uniqueness_by_default(luca: Sandbox, client: LucaClient) -> None:
    first = client.call("EkleFinMusteriWS", company("CK-7"))
    assert first["error"] is False and first["message"] == "Cari kart kaydedildi." and first["kod"] == "CK-7"
    assert client.call("EkleFinMusteriWS", company("CK-7"))["finansalNesneId"] != first["finansalNesneId"]
    assert luca.admin("luca", "GET", "state")["customers"] == {"count": 2, "duplicate_codes": ["CK-7"]}
    luca.admin("luca", "POST", "config", {"customer_code_unique": True})
    assert client.call("EkleFinMusteriWS", company("CK-7")) == {
        "error": True,
        "message": "Cari kodu daha önce kullanılmış",
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (company("C", vergiNo=None), "[vergiNo] alanı zorunludur."),
        (company("C", vergiNo="123"), "[vergiNo] alanı 10 haneli olmalıdır."),
        (company("C", paraBirimKod="GBP"), "Para birimi bulunamadı."),
        (company("C", tanim=""), "[tanim] alanı zorunludur."),
        (company("C", tip=2, ad="Ali", soyad="Veli"), "[tcKimlikNo] alanı zorunludur."),
        (company("C", tip=2, tcKimlikNo="12345678901", ad="Ali"), "[soyad] alanı zorunludur."),
    ],
)
def test_customer_validation(client: LucaClient, body: dict[str, Any], message: str) -> None:
    assert client.call("EkleFinMusteriWS", body) == {"error": True, "message": message}


def test_customer_list_and_range(client: LucaClient) -> None:
    client.call("EkleFinMusteriWS", company("CK-1"))
    client.call("EkleFinMusteriWS", company("CK-2", tip="2", tcKimlikNo="12345678901", ad="Ayşe", soyad="Yılmaz"))
    client.call("EkleFinMusteriWS", company("TED-1"))
    found = client.call(
        "ListeleFinMusteri",
        {"finMusteri": {"gnlFinansalNesne": {"kodBas": "CK", "kodBit": "CKZZ", "kodOp": "between"}}},
    )
    assert [(c["kod"], c["tip"]) for c in found["list"]] == [("CK-1", 1), ("CK-2", 2)]
    assert found["list"][1]["tcKimlikNo"] == "12345678901" and found["list"][0]["vergiNo"] == "1234567890"


# -- invoices -----------------------------------------------------------------------------------
@pytest.fixture
def billing(client: LucaClient) -> LucaClient:
    client.call("EkleStkWsSkart", card("MAM-1"))
    client.call("EkleFinMusteriWS", company("CK-1"))
    return client


def _line(**extra: Any) -> dict[str, Any]:
    return {"kartTuru": 1, "kartKodu": "MAM-1", "miktar": 1, "birimFiyat": 5, "kdvOran": 0.2} | extra


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"belgeSeri": "A"}, "Belge Seri bulunamadı!"),
        ({"belgeSeri": None}, "[belgeSeri] alanı zorunludur."),
        ({"cariKodu": "CK-404"}, "Cari bulunamadı."),
        ({"belgeTarihi": "2026-02-01"}, "[belgeTarihi] tarih formatı geçersiz (gg/AA/yyyy)."),
        ({"vadeTarihi": None}, "[vadeTarihi] alanı zorunludur."),
        ({"detayList": []}, "[detayList] alanı zorunludur."),
        ({"paraBirimKod": "USD"}, "[kurBedeli] alanı zorunludur."),
        ({"detayList": [_line(kartKodu="NOPE")]}, "Stok kartı bulunamadı: NOPE"),
        (
            {"detayList": [_line(kdvOran=20)]},
            "[kdvOran] 0 ile 1 arasında bir oran olmalıdır (ör. %20 için 0.2).",
        ),
        ({"detayList": [_line(miktar=0)]}, "[miktar] sıfırdan büyük olmalıdır."),
        ({"detayList": [_line(birimFiyat=-1)]}, "[birimFiyat] negatif olamaz."),
        ({"detayList": [_line(depoKodu="999")]}, "Depo bulunamadı: 999"),
        ({"detayList": [_line(olcuBirimi=1)]}, "Ölçü birimi bulunamadı."),
    ],
)
def test_invoice_validation(billing: LucaClient, changes: dict[str, Any], message: str) -> None:
    assert billing.call("EkleFtrWsFaturaBaslik", invoice("CK-1", "MAM-1") | changes) == {
        "error": True,
        "message": message,
    }
    assert billing.call("ListeleFtrSsFaturaBaslik")["size"] == 0


def test_invoice_create_list_delete(luca: Sandbox, billing: LucaClient) -> None:
    body = invoice("CK-1", "MAM-1", belgeTakipNo="SO-1")
    body["detayList"][0] |= {"depoKodu": "001.001.0001", "olcuBirimi": 945, "iskontoOran1": 0.1}
    first = billing.call("EkleFtrWsFaturaBaslik", body)
    assert first["error"] is False and first["message"] == "Fatura kaydedildi." and first["belgeNo"] == 1
    again = billing.call("EkleFtrWsFaturaBaslik", body)  # no duplicate guard on belgeTakipNo
    assert again["belgeNo"] == 2 and again["ssFaturaBaslikId"] != first["ssFaturaBaslikId"]
    billing.call("EkleFtrWsFaturaBaslik", invoice("CK-1", "MAM-1", belgeTakipNo="SO-2", belgeNo=40))
    usd = invoice("CK-1", "MAM-1", paraBirimKod="USD", kurBedeli="41.25", belgeSeri="IZM2025")
    assert billing.call("EkleFtrWsFaturaBaslik", usd)["belgeNo"] == 1  # counter per series
    assert luca.admin("luca", "GET", "state")["invoices"]["duplicate_tracking_numbers"] == ["SO-1"]

    flt = {"belgeTakipNoBas": "SO-1", "belgeTakipNoBit": "SO-1", "belgeTakipNoOp": "between"}
    listed = billing.call(
        "ListeleFtrSsFaturaBaslik", {"ftrSsFaturaBaslik": {"gnlOrgSsBelge": flt}, "parUstHareketTuru": 18}
    )
    assert listed["size"] == 2 and "detayList" not in listed["list"][0]
    item = listed["list"][0]
    assert (item["belgeSeri"], item["cariKodu"], item["tutar"]) == (
        "EFA2025",
        "CK-1",
        22.68,
    )  # 2*10.5*0.9*1.2
    detailed = billing.call("ListeleFtrSsFaturaBaslik", params={"detayliListe": "true"}, headers={"No-Paging": "true"})
    assert detailed["size"] == 4 and detailed["list"][0]["detayList"][0]["depoKodu"] == "001.001.0001"
    by_no = billing.call(
        "ListeleFtrSsFaturaBaslik",
        {"ftrSsFaturaBaslik": {"gnlOrgSsBelge": {"belgeNoBas": 2, "belgeNoBit": 40}}},
    )
    assert sorted(i["belgeNo"] for i in by_no["list"]) == [2, 40]
    assert billing.call("ListeleFtrSsFaturaBaslik", {"parUstHareketTuru": 16})["size"] == 0

    assert billing.call("SilFtrWsFaturaBaslik", {"ssFaturaBaslikId": first["ssFaturaBaslikId"]}) == {
        "error": False,
        "message": "Fatura silindi.",
    }
    assert billing.call("SilFtrWsFaturaBaslik", {"ssFaturaBaslikId": first["ssFaturaBaslikId"]})["error"] is True
    stored = luca.admin("luca", "GET", "invoices")
    assert stored["count"] == 3 and stored["records"][0]["detayList"][0]["kartKodu"] == "MAM-1"


# -- admin --------------------------------------------------------------------------------------
def test_state_shape_and_seeded_duplicates(luca: Sandbox, client: LucaClient) -> None:
    seeded = luca.admin("luca", "POST", "seed/stock_cards", {"records": [card("D-1"), card("D-1")], "validate": False})
    assert seeded["inserted"] == 2
    state = luca.admin("luca", "GET", "state")
    assert state["stock_cards"] == {"count": 2, "duplicate_codes": ["D-1"]}
    assert state["logins"] == 1 and state["max_concurrency"] >= 1
    assert {"stock_cards", "customers", "invoices", "logins", "max_concurrency"} <= set(state)


def test_seed_is_all_or_nothing_and_validates(luca: Sandbox) -> None:
    with pytest.raises(requests.HTTPError):
        luca.admin("luca", "POST", "seed/stock_cards", {"records": [card("S-1"), card("S-2", baslangicTarihi="x")]})
    assert luca.admin("luca", "GET", "state")["stock_cards"]["count"] == 0
    customers = [company(f"CK-{i}") for i in range(3)]
    assert luca.admin("luca", "POST", "seed/customers", {"records": customers})["inserted"] == 3


def test_seed_ten_thousand_cards_quickly(luca: Sandbox, client: LucaClient) -> None:
    import time

    started = time.perf_counter()
    luca.admin("luca", "POST", "seed/stock_cards", {"records": [card(f"B-{i:05d}") for i in range(10_000)]})
    assert time.perf_counter() - started < 5
    everything = client.call("ListeleStkSkart", headers={"No-Paging": "true"})
    assert everything["size"] == 10_000 and len(everything["list"]) == 10_000


def test_request_log(luca: Sandbox, client: LucaClient) -> None:
    client.call("ListeleStkSkart")
    entries = luca.admin("luca", "GET", "requests", action="ListeleStkSkart")
    assert len(entries) == 1
    entry = entries[0]
    assert entry["session"] == client.http.cookies["JSESSIONID"] and entry["branch"] == "11746"
    assert entry["outcome"] == "ok" and entry["node"] == int(entry["session"].rpartition("!")[2])
    assert {"ts", "body_size", "fault"} <= set(entry)


def test_config_rejects_unknown_switch(luca: Sandbox) -> None:
    with pytest.raises(requests.HTTPError):
        luca.admin("luca", "POST", "config", {"nope": 1})
    assert luca.admin("luca", "GET", "config")["page_size"] == 10
