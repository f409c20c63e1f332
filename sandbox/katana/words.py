"""Turkish vocabulary for the data generator (names, places), kept apart from the logic."""

from __future__ import annotations

# (category, uom, base nouns): names are built as "<adjective> <noun> <model>".
PRODUCT_FAMILIES: list[tuple[str, str, list[str]]] = [
    ("Mobilya", "adet", ["Çalışma Masası", "Kitaplık", "Gardırop", "Şifonyer", "Sandalye", "Sehpa"]),
    ("Mutfak", "pcs", ["Döküm Tencere", "Çaydanlık", "Kesme Tahtası", "Süzgeç", "Tava", "Bardak Seti"]),
    ("Tekstil", "pcs", ["Pamuklu Tişört", "Keten Gömlek", "Örgü Kazak", "Yağmurluk", "Eşofman", "Önlük"]),
    ("Hırdavat", "adet", ["Çelik Raf Ünitesi", "Menteşe", "Kapı Kolu", "Vida Seti", "Şerit Metre", "Çekiç"]),
    ("Tesisat", "m", ["Ø12 Çelik Boru", "⌀50 PVC Dirsek", "Φ8 Nervürlü Demir", "Bakır Kablo", "Hortum"]),
    ("Gıda", "kg", ["Fındık İçi", "Kuru Üzüm", "Çay", "Türk Kahvesi", "Lokum", "Pekmez"]),
    ("Zemin", "m2", ["Laminat Parke", "Seramik Karo", "Halı Kaplama", "Mermer Plaka"]),
]
ADJECTIVES = [
    "Ahşap",
    "Çelik",
    "Şık",
    "Güçlü",
    "Doğal",
    "Özel",
    "Büyük",
    "Küçük",
    "Işıklı",
    "Üstün",
    "Klasik",
]

MATERIAL_FAMILIES: list[tuple[str, str, list[str]]] = [
    ("Hammadde", "kg", ["Çelik Sac", "Alüminyum Profil", "Polietilen Granül", "Boya Pigmenti", "Tutkal"]),
    ("Hammadde", "m", ["Pamuk İplik", "Keten Kumaş", "Ø6 Bakır Tel", "Fermuar Şeridi"]),
    ("Ambalaj", "adet", ["Karton Koli", "Streç Film", "Köpük Dolgu", "Etiket Rulosu"]),
]

SERVICES: list[tuple[str, str, str]] = [
    ("Nakliye", "adet", "NAKLIYE"),
    ("Montaj", "adet", "MONTAJ"),
    ("Kurulum ve Eğitim", "adet", "KURULUM"),
]

# Config name -> values; variants take the cartesian product of a product's configs.
CONFIGS: dict[str, list[str]] = {
    "Renk": ["Kırmızı", "Mavi", "Siyah", "Beyaz", "Yeşil", "Gri"],
    "Beden": ["S", "M", "L", "XL"],
    "Boyut": ["Küçük", "Orta", "Büyük"],
    "Uzunluk": ["1 m", "2 m", "3 m"],
}

FIRST_NAMES = [
    "Ayşe",
    "Mehmet",
    "Çağla",
    "Gökhan",
    "Şule",
    "Ömer",
    "İbrahim",
    "Özge",
    "Uğur",
    "Ebru",
    "Işıl",
    "Ümit",
    "Şükrü",
    "Gülşen",
    "Çetin",
    "İrem",
    "Oğuz",
    "Ülkü",
]
LAST_NAMES = [
    "Yılmaz",
    "Öztürk",
    "Çelik",
    "Şahin",
    "Doğan",
    "Kılıç",
    "Aydın",
    "Güneş",
    "Işık",
    "Özdemir",
    "Koç",
    "Çakır",
    "Ünal",
    "Erdoğan",
    "Şimşek",
    "Bölükbaşı",
]
COMPANY_WORDS = [
    "Yıldız",
    "Güneş",
    "Doğuş",
    "Özgür",
    "Çınar",
    "Işık",
    "Ege",
    "Anadolu",
    "Karadeniz",
    "Boğaziçi",
    "Ünlü",
    "Şahin",
    "Gökkuşağı",
    "Çağdaş",
]
COMPANY_KINDS = [
    "Makina Sanayi ve Ticaret A.Ş.",
    "Gıda Ltd. Şti.",
    "İnşaat ve Taahhüt A.Ş.",
    "Tekstil San. Tic. Ltd. Şti.",
    "Mobilya Dekorasyon",
    "Dış Ticaret A.Ş.",
]
CUSTOMER_CATEGORIES = ["Bayi", "Perakende", "Kurumsal", "İhracat"]

# (city, districts)
CITIES: list[tuple[str, list[str]]] = [
    ("İstanbul", ["Kadıköy", "Şişli", "Üsküdar", "Beşiktaş", "Ümraniye"]),
    ("Ankara", ["Çankaya", "Keçiören", "Yenimahalle"]),
    ("İzmir", ["Karşıyaka", "Bornova", "Çiğli"]),
    ("Bursa", ["Nilüfer", "Osmangazi"]),
    ("Eskişehir", ["Odunpazarı", "Tepebaşı"]),
    ("Muğla", ["Bodrum", "Fethiye"]),
    ("Şanlıurfa", ["Eyyübiye", "Haliliye"]),
    ("Çanakkale", ["Merkez", "Gelibolu"]),
    ("Gaziantep", ["Şahinbey", "Şehitkamil"]),
]
STREETS = [
    "Atatürk Cad.",
    "İstiklal Cad.",
    "Gül Sok.",
    "Çiçek Sok.",
    "Cumhuriyet Blv.",
    "Şehitler Cad.",
    "Öğretmenler Cad.",
    "Bağdat Cad.",
]

LOCATIONS: list[tuple[str, str, str]] = [
    ("Ana Depo", "İstanbul", "Tuzla"),
    ("Ankara Şube Deposu", "Ankara", "Sincan"),
    ("İzmir Depo", "İzmir", "Kemalpaşa"),
]
