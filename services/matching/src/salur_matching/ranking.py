"""Ranking: a deterministic integer score, in basis points (0 to 10,000), for an eligible pair.

Six criteria, each with a fixed maximum; the score is their sum. All arithmetic is on
integers (sen, basis points, counts), so two readers of the same facts always get the same
score and the same order; numbers in the explanations are only for people.

criterion                       max    full points when
poor_households_per_rupiah    3,000    >= 2 poor households per Rp 1 million asked (linear)
plan_priority                 2,000    priority 1 in the BKM's plan; priority p earns 2,000 // p
swadaya_beyond_requirement    1,500    self-help share >= 20 points above the required percent
close_date_fits_planned_year  1,500    closes in the planned year (750 the year after, else 0)
envelope_headroom             1,000    remaining envelope >= 10 x the amount asked (linear)
partner_region_preference     1,000    activity inside the partner's regions of operation

Ties are broken by the other side's id, so a ranked list never depends on arrival order.
"""

from __future__ import annotations

from typing import NamedTuple

from salur_matching.facts import Activity, Opportunity, Partner, percent_text, rupiah, within

WEIGHTS: dict[str, int] = {
    "poor_households_per_rupiah": 3_000,
    "plan_priority": 2_000,
    "swadaya_beyond_requirement": 1_500,
    "close_date_fits_planned_year": 1_500,
    "envelope_headroom": 1_000,
    "partner_region_preference": 1_000,
}
SEN_PER_MILLION = 100_000_000


class Reason(NamedTuple):
    criterion: str
    points: int
    explanation: str


def _households(a: Activity) -> Reason:
    top = WEIGHTS["poor_households_per_rupiah"]
    asked = max(a.outstanding, 1)
    # Full points at two households per million: points = hh / (2 * asked / 1e6) * top.
    points = min(top, a.poor_households * SEN_PER_MILLION * top // (2 * asked))
    tenths = a.poor_households * SEN_PER_MILLION * 10 // asked
    return Reason(
        "poor_households_per_rupiah",
        points,
        f"Reaches {a.poor_households} poor households: {tenths // 10}.{tenths % 10} per "
        f"Rp 1 million asked.",
    )


def _priority(a: Activity) -> Reason:
    points = WEIGHTS["plan_priority"] // max(a.priority, 1)
    return Reason(
        "plan_priority",
        points,
        f"Priority {a.priority} in the BKM's plan (1 is the most urgent).",
    )


def _swadaya(a: Activity, o: Opportunity) -> Reason:
    top = WEIGHTS["swadaya_beyond_requirement"]
    extra = max(0, a.swadaya_bp - o.swadaya_bp)
    points = min(top, extra * top // 2_000)
    return Reason(
        "swadaya_beyond_requirement",
        points,
        f"The community brings {percent_text(a.swadaya_bp)} of the cost itself; "
        f"{percent_text(o.swadaya_bp)} is required.",
    )


def _close_date(a: Activity, o: Opportunity) -> Reason:
    top = WEIGHTS["close_date_fits_planned_year"]
    gap = o.close_date.year - a.planned_year
    points = top if gap == 0 else top // 2 if gap == 1 else 0
    if gap == 0:
        text = f"The opportunity closes in {a.planned_year}, the year the activity is planned."
    else:
        text = (
            f"The opportunity closes in {o.close_date.year}, {gap} year(s) after the activity's "
            f"planned year {a.planned_year}."
        )
    return Reason("close_date_fits_planned_year", points, text)


def _headroom(a: Activity, o: Opportunity) -> Reason:
    top = WEIGHTS["envelope_headroom"]
    asked = max(a.outstanding, 1)
    points = min(top, o.remaining * top // (10 * asked))
    return Reason(
        "envelope_headroom",
        points,
        f"{rupiah(o.remaining)} remains in the envelope for the {rupiah(a.outstanding)} asked.",
    )


def _preference(a: Activity, partner: Partner | None) -> Reason:
    top = WEIGHTS["partner_region_preference"]
    if partner is None:
        return Reason(
            "partner_region_preference", 0, "The partner has not stated where it operates."
        )
    region = within(a.region_code, partner.regions)
    if region is None:
        return Reason(
            "partner_region_preference",
            0,
            f"The activity lies outside the regions the partner operates in "
            f"({', '.join(partner.regions)}).",
        )
    return Reason(
        "partner_region_preference",
        top,
        f"The activity lies in {region}, where the partner says it operates.",
    )


def score(a: Activity, o: Opportunity, partner: Partner | None) -> tuple[int, list[Reason]]:
    reasons = [
        _households(a),
        _priority(a),
        _swadaya(a, o),
        _close_date(a, o),
        _headroom(a, o),
        _preference(a, partner),
    ]
    return sum(r.points for r in reasons), reasons
