"""Tenant fixtures: the lookup tables a real Koza tenant has before any sync runs.

Ids are deliberately odd (tenant database ids, not an enum) and there are more units and
categories than one default page holds, so a client that forgets ``No-Paging`` sees a
truncated list (spec F17, F21).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Branch:
    id: str
    name: str


UNITS: list[dict[str, Any]] = [
    {"id": 945, "tanim": "Adet"},
    {"id": 2, "tanim": "Kg"},
    {"id": 965, "tanim": "M3"},
    {"id": 3, "tanim": "Metre"},
    {"id": 6, "tanim": "M2"},
    {"id": 925, "tanim": "ons"},
    {"id": 13424, "tanim": "Litre"},
    {"id": 12790, "tanim": "Koli"},
    {"id": 11, "tanim": "Gram"},
    {"id": 14, "tanim": "Ton"},
    {"id": 987, "tanim": "Paket"},
    {"id": 1203, "tanim": "Takım"},
    {"id": 4410, "tanim": "Çift"},
    {"id": 7, "tanim": "Saat"},
]

# Hierarchical dotted codes; "01" repeats under two parents and "001.01" / "002.01" share a
# last segment, so matching on the short code alone is ambiguous.
CATEGORIES: list[dict[str, Any]] = [
    {"kod": "001", "tanim": "Hammadde", "kartTuru": 1},
    {"kod": "001.01", "tanim": "Metal Hammadde", "kartTuru": 1},
    {"kod": "001.01.01", "tanim": "Çelik Sac", "kartTuru": 1},
    {"kod": "001.02", "tanim": "Plastik Hammadde", "kartTuru": 1},
    {"kod": "002", "tanim": "Yarı Mamul", "kartTuru": 1},
    {"kod": "002.01", "tanim": "Montaj Parçaları", "kartTuru": 1},
    {"kod": "003", "tanim": "Mamul", "kartTuru": 1},
    {"kod": "003.01", "tanim": "Bitmiş Ürün", "kartTuru": 1},
    {"kod": "120.06", "tanim": "Yurtiçi Müşteriler", "kartTuru": 1},
    {"kod": "150", "tanim": "İlk Madde ve Malzeme", "kartTuru": 1},
    {"kod": "150.01", "tanim": "Ambalaj Malzemesi", "kartTuru": 1},
    {"kod": "153", "tanim": "Ticari Mallar", "kartTuru": 1},
    {"kod": "153.01", "tanim": "İthal Ticari Mallar", "kartTuru": 1},
    {"kod": "BORON", "tanim": "Bor Ürünleri", "kartTuru": 1},
    {"kod": "HZM", "tanim": "Hizmetler", "kartTuru": 2},
    {"kod": "HZM.01", "tanim": "Nakliye", "kartTuru": 2},
]

DEPOTS: list[dict[str, Any]] = [
    {"depoId": 1101, "kod": "001", "tanim": "Merkez Depo"},
    {"depoId": 1102, "kod": "002", "tanim": "Hammadde Deposu"},
    {"depoId": 1187, "kod": "001.001.0001", "tanim": "Merkez Sevkiyat Rafı"},
    {"depoId": 1204, "kod": "003.0001", "tanim": "İzmir Şube Depo"},
]

# belgeTurDetayId -> (parent movement type parUstHareketTuru, name)
DOCUMENT_TYPES: dict[int, tuple[int, str]] = {
    76: (18, "Mal Satış Faturası"),
    69: (16, "Alım Faturası"),
    72: (17, "Satış İade Faturası"),
    79: (19, "Alım İade Faturası"),
}

SERIES: list[dict[str, Any]] = [
    {"seri": "EFA2025", "belgeTurDetayId": 76},
    {"seri": "EFA2026", "belgeTurDetayId": 76},
    {"seri": "IZM2025", "belgeTurDetayId": 76},
    {"seri": "ALF2025", "belgeTurDetayId": 69},
    {"seri": "SIA2025", "belgeTurDetayId": 72},
    {"seri": "AIA2025", "belgeTurDetayId": 79},
]

CURRENCIES = ("TRY", "USD", "EUR")

DEFAULT_BRANCHES = (Branch("11746", "Merkez"),)
DEFAULT_COMPANY = "Anadolu Makine Sanayi ve Ticaret"
