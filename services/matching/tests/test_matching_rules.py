"""Eligibility, rule by rule: each hard rule fails on its own fact and says why by name."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest
from salur_matching.facts import Activity, Bkm, Opportunity
from salur_matching.rules import RULE_NAMES, eligible, evaluate, why_not

pytestmark = pytest.mark.unit

BKM = Bkm(uuid.uuid4(), 2, "verified")
ACTIVITY = Activity(
    activity_id=uuid.uuid4(),
    plan_id=uuid.uuid4(),
    bkm_id=BKM.bkm_id,
    source_version=3,
    title="Saluran RW 05",
    aspect="environment",
    kind="drainage",
    region_code="32.73.01.1001",
    planned_year=2027,
    estimated_cost=150_000_000_00,
    swadaya=15_000_000_00,
    poor_households=120,
    priority=1,
    described=True,
    channelling="seeking_funding",
    outstanding=100_000_000_00,
)
OPPORTUNITY = Opportunity(
    opportunity_id=uuid.uuid4(),
    partner_id=uuid.uuid4(),
    source_version=1,
    title="CSR Air Bersih",
    partner_name="PT Sinar",
    status="open",
    aspects=("environment",),
    kinds=("drainage", "clean_water"),
    regions=("32.73",),
    min_amount=25_000_000_00,
    max_amount=150_000_000_00,
    envelope=1_000_000_000_00,
    committed=0,
    swadaya_bp=1000,
    open_date=dt.date(2027, 1, 1),
    close_date=dt.date(2027, 6, 30),
)


def failing(
    activity: Activity = ACTIVITY, o: Opportunity = OPPORTUNITY, bkm: Bkm | None = BKM
) -> list[tuple[str, str]]:
    return [(r.rule, r.explanation) for r in why_not(activity, o, bkm)]


def test_a_fitting_pair_passes_every_rule_and_each_rule_says_so() -> None:
    results = evaluate(ACTIVITY, OPPORTUNITY, BKM)
    assert [r.rule for r in results] == list(RULE_NAMES)
    assert all(r.passed and r.explanation for r in results)
    assert eligible(ACTIVITY, OPPORTUNITY, BKM)


@pytest.mark.parametrize(
    ("rule", "activity", "opportunity", "bkm", "words"),
    [
        (
            "aspect_accepted",
            dataclasses.replace(ACTIVITY, aspect="social"),
            OPPORTUNITY,
            BKM,
            "(social) is not among the aspects",
        ),
        (
            "kind_accepted",
            dataclasses.replace(ACTIVITY, kind="roads"),
            OPPORTUNITY,
            BKM,
            "(roads) is not among the kinds",
        ),
        (
            "region_eligible",
            dataclasses.replace(ACTIVITY, region_code="32.74.01.1001"),
            OPPORTUNITY,
            BKM,
            "32.74.01.1001 is outside the eligible regions (32.73)",
        ),
        (
            "amount_within_limits",
            dataclasses.replace(ACTIVITY, outstanding=10_000_000_00),
            OPPORTUNITY,
            BKM,
            "Rp 10,000,000, is below the smallest amount",
        ),
        (
            "amount_within_limits",
            dataclasses.replace(ACTIVITY, outstanding=200_000_000_00),
            dataclasses.replace(OPPORTUNITY, max_amount=150_000_000_00),
            BKM,
            "is above the largest amount",
        ),
        (
            "amount_within_remaining_envelope",
            ACTIVITY,
            dataclasses.replace(OPPORTUNITY, committed=950_000_000_00),
            BKM,
            "is more than what remains of the envelope (Rp 50,000,000)",
        ),
        (
            "swadaya_meets_requirement",
            dataclasses.replace(ACTIVITY, swadaya=14_999_999_99),
            OPPORTUNITY,
            BKM,
            "requires at least 10%",
        ),
        (
            "opportunity_open_now",
            ACTIVITY,
            dataclasses.replace(OPPORTUNITY, status="closed"),
            BKM,
            "is closed and takes no more proposals",
        ),
        (
            "planned_year_before_close",
            dataclasses.replace(ACTIVITY, planned_year=2028),
            OPPORTUNITY,
            BKM,
            "planned for 2028; the opportunity closes on 2027-06-30",
        ),
        (
            "bkm_verified_not_suspended",
            ACTIVITY,
            OPPORTUNITY,
            dataclasses.replace(BKM, status="suspended"),
            "The BKM is suspended",
        ),
        (
            "bkm_verified_not_suspended",
            ACTIVITY,
            OPPORTUNITY,
            None,
            "unknown to matching",
        ),
    ],
)
def test_each_rule_fails_alone_on_its_own_fact_and_names_itself(
    rule: str, activity: Activity, opportunity: Opportunity, bkm: Bkm | None, words: str
) -> None:
    failed = failing(activity, opportunity, bkm)
    assert [name for name, _ in failed] == [rule]
    assert words in failed[0][1]
    assert not eligible(activity, opportunity, bkm)


@pytest.mark.parametrize(
    ("channelling", "words"),
    [
        ("funded", "no longer seeks funding: it is funded"),
        ("completed", "no longer seeks funding: it is completed"),
        ("withdrawn", "The BKM withdrew the activity from channelling."),
        ("not_opened", "has not opened the activity for channelling"),
    ],
)
def test_an_activity_no_longer_seeking_fails_first_on_seeking_funding(
    channelling: str, words: str
) -> None:
    done = dataclasses.replace(ACTIVITY, channelling=channelling, outstanding=0)
    failed = failing(done)
    # Nothing is outstanding any more, so the amount is below the minimum too.
    assert [name for name, _ in failed] == ["activity_seeking_funding", "amount_within_limits"]
    assert words in failed[0][1]


def test_an_exhausted_envelope_is_named_as_exhausted() -> None:
    exhausted = dataclasses.replace(OPPORTUNITY, committed=990_000_000_00)
    assert failing(o=exhausted) == [
        (
            "amount_within_remaining_envelope",
            "The opportunity's envelope is exhausted: Rp 10,000,000 remains, below its minimum "
            "of Rp 25,000,000.",
        )
    ]


def test_swadaya_exactly_at_the_required_share_passes() -> None:
    exact = dataclasses.replace(ACTIVITY, swadaya=15_000_000_00)
    required = dataclasses.replace(OPPORTUNITY, swadaya_bp=1000)
    assert failing(exact, required) == []


def test_region_matches_whole_segments_only() -> None:
    elsewhere = dataclasses.replace(OPPORTUNITY, regions=("32.7",))
    assert [n for n, _ in failing(o=elsewhere)] == ["region_eligible"]
    district = dataclasses.replace(OPPORTUNITY, regions=("31", "32.73.01"))
    assert failing(o=district) == []


def test_several_failing_rules_are_all_reported() -> None:
    wrong = dataclasses.replace(ACTIVITY, aspect="social", kind="roads", planned_year=2030)
    assert [n for n, _ in failing(wrong)] == [
        "aspect_accepted",
        "kind_accepted",
        "planned_year_before_close",
    ]
