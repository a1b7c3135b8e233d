"""Planning domain events -> public integration events (the only place the two meet)."""

from __future__ import annotations

from typing import Any

from salur_contracts import planning as contract
from salur_contracts.base import IntegrationEvent
from salur_kit.integration import Mapping, copied

from salur_planning.domain import Channelling


def _plan(e: Any) -> dict[str, Any]:
    return {"plan_id": e.originator_id, "bkm_id": e.bkm_id, "region_code": e.region_code}


def _activity(e: Any) -> dict[str, Any]:
    a = e.activity
    percent = a["swadaya_percent"]
    return {
        **_plan(e),
        "plan_version": e.plan_version,
        "activity_id": e.activity_id,
        "title": a["title"],
        "description": a["description"],
        "aspect": a["aspect"],
        "kind": a["kind"],
        "location_region_code": a["location_region_code"],
        "rw": a["rw"],
        "rt": a["rt"],
        "poor_households": a["poor_households"],
        "women": a["women"],
        "total_people": a["total_people"],
        "estimated_cost": a["estimated_cost"],
        "swadaya_amount": a["swadaya_amount"],
        "swadaya_percent": None if percent is None else f"{percent.normalize():f}",
        "blm_amount": a["blm_amount"],
        "planned_year": a["planned_year"],
        "priority": a["priority"],
    }


def _activity_added(e: Any) -> IntegrationEvent:
    return contract.PlanActivityAdded(**_activity(e))


def _activity_revised(e: Any) -> IntegrationEvent:
    return contract.PlanActivityRevised(**_activity(e))


def _channelling_opened(e: Any) -> IntegrationEvent:
    a = e.activity
    return contract.ActivityChannellingOpened(
        **_plan(e),
        plan_version=e.plan_version,
        activity_id=e.activity_id,
        aspect=a["aspect"],
        kind=a["kind"],
        location_region_code=a["location_region_code"],
        planned_year=a["planned_year"],
        estimated_cost=a["estimated_cost"],
        amount_needed=e.amount_needed,
        opened_by=e.opened_by,
    )


def _funding_changed(e: Any) -> IntegrationEvent:
    after = Channelling.from_state(e.channelling)
    return contract.ActivityFundingUpdated(
        **_plan(e),
        activity_id=e.activity_id,
        cause=e.cause,
        agreement_id=e.agreement_id,
        partner_id=e.partner_id,
        partner_name=e.partner_name,
        amount=e.amount,
        funding_status=after.status,
        amount_needed=after.amount_needed,
        committed=after.committed,
        disbursed=after.disbursed,
        outstanding=after.outstanding,
    )


def _matches_changed(e: Any) -> IntegrationEvent:
    after = Channelling.from_state(e.channelling)
    return contract.ActivityMatchesUpdated(
        **_plan(e),
        activity_id=e.activity_id,
        cause=e.cause,
        match_id=e.match_id,
        opportunity_id=e.opportunity_id,
        partner_id=e.partner_id,
        score=e.score,
        open_matches=len(after.matches),
        funding_status=after.status,
        outstanding=after.outstanding,
    )


MAPPINGS: dict[str, Mapping] = {
    "Plan.Drafted": copied(contract.PlanDrafted, plan_version=1),
    "Plan.ActivityAdded": _activity_added,
    "Plan.ActivityRevised": _activity_revised,
    "Plan.ActivityRemoved": copied(contract.PlanActivityRemoved),
    "Plan.Submitted": copied(contract.PlanSubmitted),
    "Plan.Endorsed": copied(contract.PlanEndorsed),
    "Plan.RevisionOpened": copied(contract.PlanRevisionOpened),
    "Plan.ChannellingOpened": _channelling_opened,
    "Plan.ChannellingWithdrawn": copied(contract.ActivityChannellingCancelled),
    "Plan.FundingChanged": _funding_changed,
    "Plan.MatchesChanged": _matches_changed,
}

# What planning learned from registry is registry's to publish, not planning's.
PRIVATE = frozenset({"KnownBkm.Learned", "KnownBkm.StatusChanged", "KnownBkm.PeriodClaimed"})


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    """Every plan event is public; an unmapped one is a programming error."""
    name = type(domain_event).__qualname__
    if name in PRIVATE:
        return None
    return MAPPINGS[name](domain_event)
