"""Planning domain events -> public integration events (the only place the two meet)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from salur_contracts import planning as contract
from salur_contracts.base import IntegrationEvent

from salur_planning.domain import Channelling


def _plan(e: Any) -> dict[str, Any]:
    return {"plan_id": e.originator_id, "bkm_id": e.bkm_id, "region_code": e.region_code}


def _drafted(e: Any) -> IntegrationEvent:
    return contract.PlanDrafted(
        **_plan(e),
        plan_version=1,
        start_year=e.start_year,
        end_year=e.end_year,
        drafted_by=e.drafted_by,
    )


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


def _activity_removed(e: Any) -> IntegrationEvent:
    return contract.PlanActivityRemoved(
        **_plan(e), plan_version=e.plan_version, activity_id=e.activity_id
    )


def _submitted(e: Any) -> IntegrationEvent:
    return contract.PlanSubmitted(
        **_plan(e),
        plan_version=e.plan_version,
        activity_count=e.activity_count,
        total_cost=e.total_cost,
        submitted_by=e.submitted_by,
    )


def _endorsed(e: Any) -> IntegrationEvent:
    return contract.PlanEndorsed(
        **_plan(e),
        plan_version=e.plan_version,
        meeting_date=e.meeting_date,
        attendance=e.attendance,
        minutes_sha256=e.minutes_sha256,
        endorsed_by=e.endorsed_by,
    )


def _revision_opened(e: Any) -> IntegrationEvent:
    return contract.PlanRevisionOpened(
        **_plan(e),
        plan_version=e.plan_version,
        previous_version=e.previous_version,
        opened_by=e.opened_by,
    )


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


def _channelling_withdrawn(e: Any) -> IntegrationEvent:
    return contract.ActivityChannellingCancelled(
        **_plan(e), activity_id=e.activity_id, withdrawn_by=e.withdrawn_by
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


MAPPINGS: dict[str, Callable[[Any], IntegrationEvent]] = {
    "Plan.Drafted": _drafted,
    "Plan.ActivityAdded": _activity_added,
    "Plan.ActivityRevised": _activity_revised,
    "Plan.ActivityRemoved": _activity_removed,
    "Plan.Submitted": _submitted,
    "Plan.Endorsed": _endorsed,
    "Plan.RevisionOpened": _revision_opened,
    "Plan.ChannellingOpened": _channelling_opened,
    "Plan.ChannellingWithdrawn": _channelling_withdrawn,
    "Plan.FundingChanged": _funding_changed,
}

# What planning learned from registry is registry's to publish, not planning's.
PRIVATE = frozenset({"KnownBkm.Learned", "KnownBkm.StatusChanged", "KnownBkm.PeriodClaimed"})


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    """Every plan event is public; an unmapped one is a programming error."""
    name = type(domain_event).__qualname__
    if name in PRIVATE:
        return None
    return MAPPINGS[name](domain_event)
