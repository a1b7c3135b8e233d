"""Eligibility: the hard rules a pair (activity, opportunity) must pass, one function each.

Every rule is a pure function of the facts and returns whether the pair passes and why, in
words a BKM operator understands. A pair is eligible when every rule in `RULES` passes;
`why_not` lists the ones that fail, by name.

"Open now" means open in the opportunity's lifecycle (published or revised, neither closed
nor cancelled). Matching never reads the wall clock: the opportunities service owns the
calendar and announces a reached close date with `OpportunityClosed`, so live matching, a
rebuild and a test all decide the same way for the same facts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from salur_matching.facts import (
    Activity,
    Bkm,
    Opportunity,
    percent_text,
    rupiah,
    within,
)


class RuleResult(NamedTuple):
    rule: str
    passed: bool
    explanation: str


Rule = Callable[[Activity, Opportunity, Bkm | None], RuleResult]


def activity_seeking_funding(a: Activity, o: Opportunity, bkm: Bkm | None) -> RuleResult:
    if a.seeking:
        return RuleResult(
            "activity_seeking_funding",
            True,
            f"The activity is open for channelling and still needs {rupiah(a.outstanding)}.",
        )
    if not a.described:
        text = "Planning has not described the activity to matching."
    elif a.channelling == "not_opened":
        text = "The BKM has not opened the activity for channelling."
    elif a.channelling == "withdrawn":
        text = "The BKM withdrew the activity from channelling."
    else:
        text = f"The activity no longer seeks funding: it is {a.channelling.replace('_', ' ')}."
    return RuleResult("activity_seeking_funding", False, text)


def aspect_accepted(a: Activity, o: Opportunity, bkm: Bkm | None) -> RuleResult:
    ok = a.aspect in o.aspects
    accepted = ", ".join(o.aspects)
    return RuleResult(
        "aspect_accepted",
        ok,
        f"The activity's aspect ({a.aspect}) is "
        + ("" if ok else "not ")
        + f"among the aspects the opportunity funds ({accepted}).",
    )


def kind_accepted(a: Activity, o: Opportunity, bkm: Bkm | None) -> RuleResult:
    ok = a.kind in o.kinds
    return RuleResult(
        "kind_accepted",
        ok,
        f"The activity's kind ({a.kind}) is "
        + ("" if ok else "not ")
        + f"among the kinds the opportunity funds ({', '.join(o.kinds)}).",
    )


def region_eligible(a: Activity, o: Opportunity, bkm: Bkm | None) -> RuleResult:
    prefix = within(a.region_code, o.regions) if a.region_code else None
    if prefix is not None:
        return RuleResult(
            "region_eligible", True, f"The activity's kelurahan {a.region_code} lies in {prefix}."
        )
    return RuleResult(
        "region_eligible",
        False,
        f"The activity's kelurahan {a.region_code or '(unknown)'} is outside the eligible "
        f"regions ({', '.join(o.regions)}).",
    )


def amount_within_limits(a: Activity, o: Opportunity, bkm: Bkm | None) -> RuleResult:
    limits = f"{rupiah(o.min_amount)} to {rupiah(o.max_amount)}"
    if a.outstanding < o.min_amount:
        return RuleResult(
            "amount_within_limits",
            False,
            f"The amount still needed, {rupiah(a.outstanding)}, is below the smallest amount "
            f"the opportunity funds per activity ({limits}).",
        )
    if a.outstanding > o.max_amount:
        return RuleResult(
            "amount_within_limits",
            False,
            f"The amount still needed, {rupiah(a.outstanding)}, is above the largest amount "
            f"the opportunity funds per activity ({limits}).",
        )
    return RuleResult(
        "amount_within_limits",
        True,
        f"The amount still needed, {rupiah(a.outstanding)}, is within {limits} per activity.",
    )


def amount_within_remaining_envelope(a: Activity, o: Opportunity, bkm: Bkm | None) -> RuleResult:
    remaining = o.remaining
    if o.exhausted:
        return RuleResult(
            "amount_within_remaining_envelope",
            False,
            f"The opportunity's envelope is exhausted: {rupiah(remaining)} remains, below its "
            f"minimum of {rupiah(o.min_amount)}.",
        )
    ok = a.outstanding <= remaining
    return RuleResult(
        "amount_within_remaining_envelope",
        ok,
        f"The amount still needed, {rupiah(a.outstanding)}, "
        + ("fits within" if ok else "is more than")
        + f" what remains of the envelope ({rupiah(remaining)}).",
    )


def swadaya_meets_requirement(a: Activity, o: Opportunity, bkm: Bkm | None) -> RuleResult:
    # swadaya / cost >= required percent, compared exactly in integers.
    ok = a.estimated_cost > 0 and a.swadaya * 10_000 >= o.swadaya_bp * a.estimated_cost
    share = percent_text(a.swadaya_bp)
    return RuleResult(
        "swadaya_meets_requirement",
        ok,
        f"The community's self-help share is {rupiah(a.swadaya)} ({share} of the cost); the "
        f"opportunity requires at least {percent_text(o.swadaya_bp)}.",
    )


def opportunity_open_now(a: Activity, o: Opportunity, bkm: Bkm | None) -> RuleResult:
    ok = o.status == "open"
    if ok:
        text = (
            f"The opportunity is open for proposals from {o.open_date.isoformat()} to "
            f"{o.close_date.isoformat()}."
        )
    else:
        text = f"The opportunity is {o.status} and takes no more proposals."
    return RuleResult("opportunity_open_now", ok, text)


def planned_year_before_close(a: Activity, o: Opportunity, bkm: Bkm | None) -> RuleResult:
    ok = 0 < a.planned_year <= o.close_date.year
    return RuleResult(
        "planned_year_before_close",
        ok,
        f"The activity is planned for {a.planned_year}; the opportunity closes on "
        f"{o.close_date.isoformat()}, so the planned year is "
        + ("" if ok else "not ")
        + "reached before it closes.",
    )


def bkm_verified_not_suspended(a: Activity, o: Opportunity, bkm: Bkm | None) -> RuleResult:
    status = bkm.status if bkm is not None else "unknown to matching"
    ok = status == "verified"
    return RuleResult(
        "bkm_verified_not_suspended",
        ok,
        "The BKM is verified and not suspended."
        if ok
        else f"The BKM is {status}: only a verified BKM that is not suspended can be funded.",
    )


RULES: tuple[Rule, ...] = (
    activity_seeking_funding,
    aspect_accepted,
    kind_accepted,
    region_eligible,
    amount_within_limits,
    amount_within_remaining_envelope,
    swadaya_meets_requirement,
    opportunity_open_now,
    planned_year_before_close,
    bkm_verified_not_suspended,
)
RULE_NAMES: tuple[str, ...] = tuple(rule.__name__ for rule in RULES)


def evaluate(a: Activity, o: Opportunity, bkm: Bkm | None) -> list[RuleResult]:
    return [rule(a, o, bkm) for rule in RULES]


def eligible(a: Activity, o: Opportunity, bkm: Bkm | None) -> bool:
    """Every rule passes (the same rules as `evaluate`, without building the words)."""
    return (
        a.seeking
        and a.aspect in o.aspects
        and a.kind in o.kinds
        and within(a.region_code, o.regions) is not None
        and o.min_amount <= a.outstanding <= o.max_amount
        and not o.exhausted
        and a.outstanding <= o.remaining
        and a.estimated_cost > 0
        and a.swadaya * 10_000 >= o.swadaya_bp * a.estimated_cost
        and o.status == "open"
        and 0 < a.planned_year <= o.close_date.year
        and bkm is not None
        and bkm.status == "verified"
    )


def why_not(a: Activity, o: Opportunity, bkm: Bkm | None) -> list[RuleResult]:
    return [result for result in evaluate(a, o, bkm) if not result.passed]
