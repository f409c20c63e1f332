"""Request validation with Koza's messages (spec §4, F11–F16).

Returns cleaned records ready to store: text through the Windows-1254 round trip, lenient
numbers (``"76"`` and ``76`` alike, as the vendor examples mix both) converted to numbers.
Raises :class:`Invalid` with the exact message the simulator answers with.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Protocol

from sandbox.luca.encoding import MalformedBody, store_value
from sandbox.luca.seed import CURRENCIES, DOCUMENT_TYPES

_DATE_RE = re.compile(r"^\d{2}/\d{2}/\d{4}$")
_NUMERIC_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


class Invalid(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Refs(Protocol):
    """Lookups into tenant data and stored records that validation needs."""

    def unit_exists(self, unit_id: int) -> bool: ...
    def category_exists(self, code: str) -> bool: ...
    def depot_exists(self, code: str) -> bool: ...
    def series_exists(self, doc_type: int, series: str) -> bool: ...
    def card_by_code(self, code: str) -> dict[str, Any] | None: ...
    def customer_by_code(self, code: str) -> dict[str, Any] | None: ...


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def require(body: dict[str, Any], *fields: str) -> None:
    for name in fields:
        if _blank(body.get(name)):
            raise Invalid(f"[{name}] alanı zorunludur.")


def as_number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise Invalid(f"[{name}] alanı sayısal olmalıdır.")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMERIC_RE.match(value.strip()):
        return float(value.strip())
    raise Invalid(f"[{name}] alanı sayısal olmalıdır.")


def as_int(value: Any, name: str) -> int:
    number = as_number(value, name)
    if number != int(number):
        raise Invalid(f"[{name}] alanı tam sayı olmalıdır.")
    return int(number)


def parse_date(value: Any, name: str) -> date:
    """``dd/MM/yyyy`` only; ISO-8601 from a serialised DateTime is the classic mistake (F16)."""
    if isinstance(value, str) and _DATE_RE.match(value):
        try:
            return datetime.strptime(value, "%d/%m/%Y").date()
        except ValueError:
            pass
    raise Invalid(f"[{name}] tarih formatı geçersiz (gg/AA/yyyy).")


def reject_nested(body: dict[str, Any], allowed: tuple[str, ...] = ()) -> None:
    """Flat ``Ws`` actions cannot map wrapper objects (``{"stkSkart":{…}}``) → bare error (F13)."""
    for key, value in body.items():
        if isinstance(value, dict) and key not in allowed:
            raise MalformedBody(f"nested object under {key!r}")


def _fraction(value: Any, name: str) -> float:
    rate = as_number(value, name)
    if not 0 <= rate < 1:
        raise Invalid(f"[{name}] 0 ile 1 arasında bir oran olmalıdır (ör. %20 için 0.2).")
    return rate


_CARD_INTS = ("kartTuru", "kartTipi", "olcumBirimiId")
_CARD_NUMBERS = (
    "kartAlisKdvOran",
    "kartSatisKdvOran",
    "perakendeAlisBirimFiyat",
    "perakendeSatisBirimFiyat",
    "minStokMiktari",
    "maxStokMiktari",
)


def clean_card(body: dict[str, Any], refs: Refs, *, partial: bool) -> dict[str, Any]:
    """Validate a stock card create (``partial=False``) or the fields of an update."""
    reject_nested(body)
    if not partial:
        require(body, "kartKodu", "kartAdi", "baslangicTarihi", "kartTuru")
    else:
        for name in ("kartKodu", "kartAdi"):
            if name in body:
                require(body, name)
    record = store_value(body)
    for name in ("baslangicTarihi", "bitisTarihi"):
        if not _blank(record.get(name)):
            parse_date(record[name], name)
    for name in _CARD_INTS:
        if record.get(name) is not None:
            record[name] = as_int(record[name], name)
    for name in _CARD_NUMBERS:
        if record.get(name) is not None:
            record[name] = as_number(record[name], name)
    if "kartTuru" in record and record["kartTuru"] not in (1, 2):
        raise Invalid("[kartTuru] geçersiz (1: stok, 2: hizmet).")
    if record.get("olcumBirimiId") is not None and not refs.unit_exists(record["olcumBirimiId"]):
        raise Invalid("Ölçü birimi bulunamadı.")
    category = record.get("kategoriAgacKod")
    if category is not None and not (isinstance(category, str) and refs.category_exists(category)):
        raise Invalid("Kategori bulunamadı.")
    for name in ("kartKodu", "kartAdi"):
        if name in record:
            record[name] = str(record[name])
    return record


def clean_customer(body: dict[str, Any]) -> dict[str, Any]:
    reject_nested(body)
    require(body, "tip", "tanim", "kartKod", "paraBirimKod")
    record = store_value(body)
    record["tip"] = as_int(record["tip"], "tip")
    if record["tip"] not in (1, 2):
        raise Invalid("[tip] geçersiz (1: şirket, 2: şahıs).")
    record["kartKod"] = str(record["kartKod"])
    if record["paraBirimKod"] not in CURRENCIES:
        raise Invalid("Para birimi bulunamadı.")
    if record.get("cariTipId") is not None:
        record["cariTipId"] = as_int(record["cariTipId"], "cariTipId")
    if record["tip"] == 1:
        record["vergiNo"] = _digits(record, "vergiNo", 10)
    else:
        record["tcKimlikNo"] = _digits(record, "tcKimlikNo", 11)
        require(record, "ad", "soyad")
    return record


def _digits(record: dict[str, Any], name: str, length: int) -> str:
    require(record, name)
    value = record[name]
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not (isinstance(text, str) and text.isdigit() and len(text) == length):
        raise Invalid(f"[{name}] alanı {length} haneli olmalıdır.")
    return text


def clean_invoice(body: dict[str, Any], refs: Refs) -> dict[str, Any]:
    """Validate an invoice header and its lines; computes line and document totals."""
    reject_nested(body)
    require(body, "belgeSeri", "belgeTarihi", "vadeTarihi", "belgeTurDetayId", "cariKodu", "paraBirimKod")
    lines = body.get("detayList")
    if not isinstance(lines, list) or not lines:
        if lines is not None and not isinstance(lines, list):
            raise MalformedBody("detayList is not a list")
        raise Invalid("[detayList] alanı zorunludur.")
    if not all(isinstance(line, dict) for line in lines):
        raise MalformedBody("detayList items must be objects")
    record = store_value(body)
    doc_type = as_int(record["belgeTurDetayId"], "belgeTurDetayId")
    if doc_type not in DOCUMENT_TYPES:
        raise Invalid("Belge türü bulunamadı.")
    record["belgeTurDetayId"] = doc_type
    record["belgeSeri"] = str(record["belgeSeri"])
    if not refs.series_exists(doc_type, record["belgeSeri"]):
        raise Invalid("Belge Seri bulunamadı!")
    parse_date(record["belgeTarihi"], "belgeTarihi")
    parse_date(record["vadeTarihi"], "vadeTarihi")
    if record["paraBirimKod"] not in CURRENCIES:
        raise Invalid("Para birimi bulunamadı.")
    if record["paraBirimKod"] != "TRY":
        require(record, "kurBedeli")
        record["kurBedeli"] = as_number(record["kurBedeli"], "kurBedeli")
        if record["kurBedeli"] <= 0:
            raise Invalid("[kurBedeli] sıfırdan büyük olmalıdır.")
    elif record.get("kurBedeli") is not None:
        record["kurBedeli"] = as_number(record["kurBedeli"], "kurBedeli")
    if record.get("belgeNo") is not None and not _blank(record.get("belgeNo")):
        record["belgeNo"] = as_int(record["belgeNo"], "belgeNo")
        if record["belgeNo"] <= 0:
            raise Invalid("[belgeNo] sıfırdan büyük olmalıdır.")
    else:
        record["belgeNo"] = None
    customer = refs.customer_by_code(str(record["cariKodu"]))
    if customer is None:
        raise Invalid("Cari bulunamadı.")
    record["cariKodu"] = str(record["cariKodu"])
    record["cariTanim"] = customer.get("tanim")
    record["detayList"] = [_clean_line(line, refs) for line in record["detayList"]]
    net = round(sum(line["tutar"] for line in record["detayList"]), 2)
    vat = round(sum(line["kdvTutar"] for line in record["detayList"]), 2)
    record.update(netTutar=net, kdvTutar=vat, tutar=round(net + vat, 2))
    return record


def _clean_line(line: dict[str, Any], refs: Refs) -> dict[str, Any]:
    require(line, "kartTuru", "kartKodu", "miktar", "birimFiyat", "kdvOran")
    line = dict(line)
    line["kartTuru"] = as_int(line["kartTuru"], "kartTuru")
    if line["kartTuru"] not in (1, 2):
        raise Invalid("[kartTuru] geçersiz (1: stok, 2: hizmet).")
    line["kartKodu"] = str(line["kartKodu"])
    card = refs.card_by_code(line["kartKodu"])
    if card is None:
        raise Invalid(f"Stok kartı bulunamadı: {line['kartKodu']}")
    line["skartId"] = card["skartId"]
    line["miktar"] = as_number(line["miktar"], "miktar")
    if line["miktar"] <= 0:
        raise Invalid("[miktar] sıfırdan büyük olmalıdır.")
    line["birimFiyat"] = as_number(line["birimFiyat"], "birimFiyat")
    if line["birimFiyat"] < 0:
        raise Invalid("[birimFiyat] negatif olamaz.")
    line["kdvOran"] = _fraction(line["kdvOran"], "kdvOran")
    discount = 0.0
    if line.get("iskontoOran1") is not None:
        # Treated as a fraction like kdvOran; the real unit is unknown (spec §4.8).
        discount = _fraction(line["iskontoOran1"], "iskontoOran1")
        line["iskontoOran1"] = discount
    if line.get("depoKodu") is not None:
        line["depoKodu"] = str(line["depoKodu"])
        if not refs.depot_exists(line["depoKodu"]):
            raise Invalid(f"Depo bulunamadı: {line['depoKodu']}")
    if line.get("olcuBirimi") is not None:
        line["olcuBirimi"] = as_int(line["olcuBirimi"], "olcuBirimi")
        if not refs.unit_exists(line["olcuBirimi"]):
            raise Invalid("Ölçü birimi bulunamadı.")
    net = round(line["miktar"] * line["birimFiyat"] * (1 - discount), 2)
    line["tutar"] = net
    line["kdvTutar"] = round(net * line["kdvOran"], 2)
    return line


def kdv_percent(rate: Any) -> str | None:
    """List responses show VAT as ``"%20"`` (spec §3.6); a fraction 0.2 becomes 20."""
    if rate is None or isinstance(rate, bool) or not isinstance(rate, int | float):
        return None
    percent = rate * 100 if rate < 1 else rate
    return f"%{round(percent, 2):g}"
