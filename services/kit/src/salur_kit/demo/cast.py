"""Who and what the story is about: one city (Kota Bandung, region 32.73), its BKMs with
their plans, and three partners of different kinds with one opportunity each.

Amounts are rupiah as decimal strings, as every API takes them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

CITY = "32.73"
CITY_NAME = "Kota Bandung"


@dataclass(frozen=True)
class PlannedActivity:
    key: str
    title: str
    aspect: str
    kind: str
    cost: str
    swadaya: str
    blm: str
    needed: str
    poor_households: int


@dataclass(frozen=True)
class BkmCast:
    key: str
    name: str
    kelurahan: str
    address: str
    deed: str
    units: tuple[tuple[str, str], ...]
    bank: tuple[str, str]  # bank name, account number (the holder is the BKM)
    verified: bool
    activities: tuple[PlannedActivity, ...]


@dataclass(frozen=True)
class PartnerCast:
    key: str
    kind: str
    name: str
    contact: str
    email: str
    source_kind: str
    budget_code: str | None
    opportunity: str
    aspects: tuple[str, ...]
    kinds: tuple[str, ...]
    min_amount: str
    max_amount: str
    envelope: str
    swadaya_percent: str


def _a(key: str, title: str, aspect: str, kind: str, *money: str, poor: int) -> PlannedActivity:
    cost, swadaya, blm, needed = money
    return PlannedActivity(key, title, aspect, kind, cost, swadaya, blm, needed, poor)


BKMS = (
    BkmCast(
        "sejahtera",
        "BKM Sejahtera Bersama",
        "32.73.01.1001",
        "Jl. Cikutra No. 12, Sukaluyu, Bandung",
        "AHU-0012345.AH.01.07.2010",
        (("UPK", "Siti Aminah"), ("UPL", "Bambang Sutrisno"), ("UPS", "Rina Marlina")),
        ("Bank Rakyat Indonesia", "0123456789"),
        True,
        (
            _a(
                "drainage",
                "Saluran drainase RW 05",
                "environment",
                "drainage",
                "150000000.00",
                "15000000.00",
                "20000000.00",
                "100000000.00",
                poor=120,
            ),
            _a(
                "posyandu",
                "Posyandu lansia dan gizi balita",
                "social",
                "health",
                "60000000.00",
                "6000000.00",
                "4000000.00",
                "50000000.00",
                poor=80,
            ),
            _a(
                "modal",
                "Modal bergulir UPK untuk warung warga",
                "economy",
                "revolving_loan",
                "80000000.00",
                "8000000.00",
                "0.00",
                "70000000.00",
                poor=45,
            ),
        ),
    ),
    BkmCast(
        "maju",
        "BKM Maju Mandiri",
        "32.73.05.1003",
        "Jl. Cibaduyut Raya No. 40, Bandung",
        "AHU-0023456.AH.01.07.2011",
        (("UPL", "Dedi Kurniawan"), ("UPS", "Yuli Handayani")),
        ("Bank Mandiri", "1300012345678"),
        True,
        (
            _a(
                "mck",
                "MCK komunal RW 02",
                "environment",
                "sanitation",
                "120000000.00",
                "18000000.00",
                "12000000.00",
                "90000000.00",
                poor=95,
            ),
            _a(
                "jahit",
                "Pelatihan menjahit ibu rumah tangga",
                "economy",
                "skills_training",
                "40000000.00",
                "4000000.00",
                "1000000.00",
                "35000000.00",
                poor=30,
            ),
            _a(
                "beasiswa",
                "Beasiswa anak keluarga miskin",
                "social",
                "scholarship",
                "30000000.00",
                "3000000.00",
                "2000000.00",
                "25000000.00",
                poor=25,
            ),
        ),
    ),
    BkmCast(
        "harapan",
        "BKM Harapan Warga",
        "32.73.10.1002",
        "Jl. Kiaracondong No. 7, Bandung",
        "AHU-0034567.AH.01.07.2012",
        (("UPK", "Agus Salim"), ("UPL", "Wawan Setiawan"), ("UPS", "Nurhayati")),
        ("Bank BJB", "0098765432100"),
        True,
        (
            _a(
                "sumur",
                "Sumur bor dan perpipaan air bersih",
                "environment",
                "clean_water",
                "100000000.00",
                "10000000.00",
                "10000000.00",
                "80000000.00",
                poor=110,
            ),
            _a(
                "gizi",
                "Pemberian makanan tambahan balita",
                "social",
                "nutrition",
                "30000000.00",
                "3000000.00",
                "2000000.00",
                "25000000.00",
                poor=60,
            ),
            _a(
                "usaha",
                "Pengembangan usaha kerupuk warga",
                "economy",
                "business_development",
                "50000000.00",
                "5000000.00",
                "5000000.00",
                "40000000.00",
                poor=35,
            ),
        ),
    ),
    BkmCast(
        "tunas",
        "BKM Tunas Baru",
        "32.73.12.1004",
        "Jl. Arcamanik Endah No. 3, Bandung",
        "AHU-0045678.AH.01.07.2025",
        (("UPL", "Hendra Gunawan"),),
        ("Bank Syariah Indonesia", "7012345678"),
        False,
        (
            _a(
                "jalan",
                "Perbaikan jalan lingkungan RW 08",
                "environment",
                "roads",
                "90000000.00",
                "9000000.00",
                "0.00",
                "81000000.00",
                poor=70,
            ),
        ),
    ),
)

PARTNERS = (
    PartnerCast(
        "dinas",
        "local_government_office",
        "Dinas Perumahan dan Kawasan Permukiman Kota Bandung",
        "Ir. Hadi Prasetyo",
        "disperkim@bandung.go.id",
        "apbd",
        "1.03.03.2.01",
        "APBD Kota Bandung: infrastruktur permukiman kumuh",
        ("environment",),
        ("drainage", "roads", "sanitation", "clean_water"),
        "25000000.00",
        "150000000.00",
        "500000000.00",
        "10",
    ),
    PartnerCast(
        "csr",
        "company_csr",
        "PT Sinar Nusantara (CSR Peduli Warga)",
        "Maya Kartika",
        "csr@sinarnusantara.co.id",
        "csr",
        None,
        "CSR Peduli Warga: kesehatan, gizi dan pendidikan",
        ("social", "economy"),
        ("health", "nutrition", "scholarship", "skills_training"),
        "10000000.00",
        "60000000.00",
        "200000000.00",
        "5",
    ),
    PartnerCast(
        "bank",
        "bank",
        "Bank Jabar Banten (KUR Mikro)",
        "Rudi Hartono",
        "kur@bankjb.example",
        "bank_credit",
        None,
        "KUR Mikro untuk usaha warga binaan BKM",
        ("economy",),
        ("revolving_loan", "business_development"),
        "20000000.00",
        "100000000.00",
        "300000000.00",
        "10",
    ),
)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
