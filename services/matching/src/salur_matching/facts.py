"""What matching knows about the world, kept compact so 100,000 activities and 10,000
opportunities fit comfortably in memory.

Each fact is a slots dataclass replaced (never mutated) when a newer event arrives; money is
an integer number of sen (rupiah cents) and percentages are integer basis points, so no
decision ever touches a float. Every fact remembers the aggregate version of the event it
came from (`source_version`): an event of the same source aggregate at or below that version
changes nothing, which makes applying an event idempotent and lets a rebuild be replayed
over a live consumer safely.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import sys
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

# `matched` is planning's word for "seeking, and matching proposed something": still seeking
# (treating it otherwise would withdraw the very matches that made it so).
SEEKING_STATUSES = frozenset({"seeking_funding", "matched", "partially_funded"})
Channelling = Literal[
    "not_opened",
    "seeking_funding",
    "matched",
    "partially_funded",
    "funded",
    "in_progress",
    "completed",
    "withdrawn",
]
OpportunityStatus = Literal["open", "closed", "cancelled"]
BkmStatus = Literal["registered", "verified", "suspended"]


def cents(amount: Decimal) -> int:
    """Rupiah with two decimals -> an exact integer number of sen."""
    return int(amount * 100)


def from_cents(amount_cents: int) -> Decimal:
    """Sen -> rupiah as an exact two-place Decimal (the contracts' money)."""
    return Decimal(amount_cents).scaleb(-2)


def basis_points(percent: str) -> int:
    """A percentage string such as "12.5" -> 1250 basis points."""
    return int(Decimal(percent) * 100)


def rupiah(amount_cents: int) -> str:
    """Words for people: "Rp 75,000,000"."""
    whole, sen = divmod(amount_cents, 100)
    return f"Rp {whole:,}" + (f".{sen:02d}" if sen else "")


def percent_text(bp: int) -> str:
    whole, rest = divmod(bp, 100)
    return f"{whole}%" if not rest else f"{whole}.{rest:02d}".rstrip("0") + "%"


@functools.cache
def prefixes(region_code: str) -> tuple[str, str, str, str]:
    """The four prefixes of a kelurahan code: province, city, district, kelurahan.

    Cached: Indonesia has about 84,000 kelurahan codes, and every decision asks."""
    p, k, c, _ = region_code.split(".")
    return (intern(p), intern(f"{p}.{k}"), intern(f"{p}.{k}.{c}"), intern(region_code))


def intern(value: str) -> str:
    # Aspects, kinds and region codes repeat across thousands of facts: share one copy.
    return sys.intern(value)


@dataclass(slots=True, frozen=True)
class Activity:
    """A plan activity: how planning describes it and where its channelling stands."""

    activity_id: UUID
    plan_id: UUID
    bkm_id: UUID
    source_version: int
    title: str
    aspect: str
    kind: str
    region_code: str
    planned_year: int
    estimated_cost: int
    swadaya: int
    poor_households: int
    priority: int
    described: bool
    channelling: str
    outstanding: int

    def but(self, **changes: Any) -> Activity:
        """A copy with some fields changed (`dataclasses.replace`, without its introspection:
        a rebuild makes one per event)."""
        values = dict(zip(_ACTIVITY_FIELDS, _activity_values(self), strict=True))
        values.update(changes)
        return Activity(**values)

    @property
    def seeking(self) -> bool:
        """Opened for channelling, described, and partners have not yet covered it."""
        return self.described and self.channelling in SEEKING_STATUSES and self.outstanding > 0

    @property
    def swadaya_bp(self) -> int:
        return self.swadaya * 10_000 // self.estimated_cost if self.estimated_cost else 0

    def row(self) -> dict[str, Any]:
        return {
            "activity_id": str(self.activity_id),
            "plan_id": str(self.plan_id),
            "bkm_id": str(self.bkm_id),
            "source_version": self.source_version,
            "title": self.title,
            "aspect": self.aspect,
            "kind": self.kind,
            "region_code": self.region_code,
            "planned_year": self.planned_year,
            "estimated_cost": self.estimated_cost,
            "swadaya": self.swadaya,
            "poor_households": self.poor_households,
            "priority": self.priority,
            "described": self.described,
            "channelling": self.channelling,
            "outstanding": self.outstanding,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Activity:
        return cls(
            activity_id=UUID(row["activity_id"]),
            plan_id=UUID(row["plan_id"]),
            bkm_id=UUID(row["bkm_id"]),
            source_version=row["source_version"],
            title=row["title"],
            aspect=intern(row["aspect"]),
            kind=intern(row["kind"]),
            region_code=intern(row["region_code"]),
            planned_year=row["planned_year"],
            estimated_cost=row["estimated_cost"],
            swadaya=row["swadaya"],
            poor_households=row["poor_households"],
            priority=row["priority"],
            described=row["described"],
            channelling=row["channelling"],
            outstanding=row["outstanding"],
        )


_ACTIVITY_FIELDS = tuple(f.name for f in fields(Activity))
_activity_values = operator.attrgetter(*_ACTIVITY_FIELDS)


def new_activity(activity_id: UUID, plan_id: UUID, bkm_id: UUID) -> Activity:
    """An activity matching has heard of but planning has not yet described."""
    return Activity(
        activity_id=activity_id,
        plan_id=plan_id,
        bkm_id=bkm_id,
        source_version=0,
        title="",
        aspect="",
        kind="",
        region_code="",
        planned_year=0,
        estimated_cost=0,
        swadaya=0,
        poor_households=0,
        priority=1,
        described=False,
        channelling="not_opened",
        outstanding=0,
    )


def texts(aspect: str, kind: str, region_code: str) -> tuple[str, str, str]:
    return intern(aspect), intern(kind), intern(region_code)


@dataclass(slots=True, frozen=True)
class Opportunity:
    """An opportunity's current terms, lifecycle and envelope."""

    opportunity_id: UUID
    partner_id: UUID
    source_version: int
    title: str
    partner_name: str
    status: str
    aspects: tuple[str, ...]
    kinds: tuple[str, ...]
    regions: tuple[str, ...]
    min_amount: int
    max_amount: int
    envelope: int
    committed: int
    swadaya_bp: int
    open_date: dt.date
    close_date: dt.date

    @property
    def remaining(self) -> int:
        return max(0, self.envelope - self.committed)

    @property
    def exhausted(self) -> bool:
        """Below the smallest amount it funds, the envelope can sign nothing more."""
        return self.remaining < self.min_amount

    def buckets(self) -> set[tuple[str, str, str]]:
        return {(a, k, r) for a in self.aspects for k in self.kinds for r in self.regions}

    def row(self) -> dict[str, Any]:
        return {
            "opportunity_id": str(self.opportunity_id),
            "partner_id": str(self.partner_id),
            "source_version": self.source_version,
            "title": self.title,
            "partner_name": self.partner_name,
            "status": self.status,
            "aspects": list(self.aspects),
            "kinds": list(self.kinds),
            "regions": list(self.regions),
            "min_amount": self.min_amount,
            "max_amount": self.max_amount,
            "envelope": self.envelope,
            "committed": self.committed,
            "swadaya_bp": self.swadaya_bp,
            "open_date": self.open_date.isoformat(),
            "close_date": self.close_date.isoformat(),
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Opportunity:
        return cls(
            opportunity_id=UUID(row["opportunity_id"]),
            partner_id=UUID(row["partner_id"]),
            source_version=row["source_version"],
            title=row["title"],
            partner_name=row["partner_name"],
            status=row["status"],
            aspects=tuple(intern(a) for a in row["aspects"]),
            kinds=tuple(intern(k) for k in row["kinds"]),
            regions=tuple(intern(r) for r in row["regions"]),
            min_amount=row["min_amount"],
            max_amount=row["max_amount"],
            envelope=row["envelope"],
            committed=row["committed"],
            swadaya_bp=row["swadaya_bp"],
            open_date=dt.date.fromisoformat(row["open_date"]),
            close_date=dt.date.fromisoformat(row["close_date"]),
        )


@dataclass(slots=True, frozen=True)
class Bkm:
    bkm_id: UUID
    source_version: int
    status: str

    def row(self) -> dict[str, Any]:
        return {
            "bkm_id": str(self.bkm_id),
            "source_version": self.source_version,
            "status": self.status,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Bkm:
        return cls(UUID(row["bkm_id"]), row["source_version"], row["status"])


@dataclass(slots=True, frozen=True)
class Partner:
    """A partner's stated regions of operation: its preference, used in the ranking."""

    partner_id: UUID
    source_version: int
    regions: tuple[str, ...]

    def row(self) -> dict[str, Any]:
        return {
            "partner_id": str(self.partner_id),
            "source_version": self.source_version,
            "regions": list(self.regions),
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Partner:
        return cls(UUID(row["partner_id"]), row["source_version"], tuple(row["regions"]))


def within(region_code: str, prefix_list: tuple[str, ...]) -> str | None:
    """The first prefix of the list that contains the code (whole segments), if any."""
    mine = prefixes(region_code)
    return next((p for p in prefix_list if p in mine), None)
