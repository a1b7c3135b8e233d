"""How registry's, planning's, opportunities' and matching's events change what partnerships
knows. Each returns the aggregates to save with the tracking record (exactly once)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from salur_contracts import matching, opportunities, planning, registry
from salur_contracts.base import IntegrationEvent

from salur_partnerships.known import (
    KnownBkm,
    KnownMatch,
    KnownOpportunity,
    KnownPartner,
    KnownPlan,
)

A = TypeVar("A", bound=Aggregate)


class Finder(Protocol):
    def find(self, cls: type[A], aggregate_id: UUID) -> A | None: ...


def follow(app: Finder, data: IntegrationEvent) -> Sequence[Aggregate]:
    for kinds, handler in _HANDLERS:
        if isinstance(data, kinds):
            return handler(app, data)
    return []  # e.g. EnvelopeExhausted: the running totals already say it


# -- registry ----------------------------------------------------------------------------------


def _bkm_changes(data: Any) -> dict[str, Any]:
    if isinstance(data, registry.BkmRegistered):
        return {"name": data.name}
    if isinstance(data, registry.BkmVerified):
        return {"status": "verified"}
    if isinstance(data, registry.BkmSuspended):
        return {"status": "suspended"}
    if isinstance(data, registry.BkmReinstated):
        return {"status": "reinstated"}
    if isinstance(data, registry.BkmBankAccountChanged):
        confirmed = data.confirmation == "confirmed"
        return {"account_number": data.account_number, "account_confirmed": confirmed}
    if isinstance(data, registry.BkmBankAccountConfirmed):
        return {"account_number": data.account_number, "account_confirmed": True}
    return {}


def _bkm(app: Finder, data: Any) -> Sequence[Aggregate]:
    bkm = app.find(KnownBkm, data.bkm_id) or KnownBkm(id=data.bkm_id, region_code=data.region_code)
    bkm.follow(_bkm_changes(data))
    return [bkm]


def _partner(app: Finder, data: Any) -> Sequence[Aggregate]:
    partner = app.find(KnownPartner, data.partner_id)
    if isinstance(data, registry.PartnerRegistered):
        if partner is not None:
            return []
        return [KnownPartner(id=data.partner_id, name=data.name, kind=data.kind)]
    if partner is None:
        return []  # verified before we learned its name: nothing to act on yet
    partner.verified()
    return [partner]


# -- planning ----------------------------------------------------------------------------------


def _plan(app: Finder, data: Any) -> Sequence[Aggregate]:
    plan = app.find(KnownPlan, data.plan_id) or KnownPlan(id=data.plan_id, bkm_id=data.bkm_id)
    if isinstance(data, planning.PlanActivityAdded | planning.PlanActivityRevised):
        plan.describe(
            activity_id=data.activity_id,
            description={
                "title": data.title,
                "aspect": data.aspect,
                "kind": data.kind,
                "region_code": data.location_region_code,
                "estimated_cost": data.estimated_cost,
            },
        )
    elif isinstance(data, planning.ActivityChannellingOpened):
        plan.describe(
            activity_id=data.activity_id,
            description={
                "aspect": data.aspect,
                "kind": data.kind,
                "region_code": data.location_region_code,
                "estimated_cost": data.estimated_cost,
                "amount_needed": data.amount_needed,
                "outstanding": data.amount_needed,
                "open": True,
            },
        )
    elif isinstance(data, planning.ActivityChannellingCancelled):
        plan.describe(activity_id=data.activity_id, description={"open": False})
    elif isinstance(data, planning.ActivityFundingUpdated):
        plan.describe(activity_id=data.activity_id, description={"outstanding": data.outstanding})
    return [plan] if plan.pending_events else []


# -- opportunities -------------------------------------------------------------------------------

_TERMS = (
    "partner_name",
    "title",
    "aspects",
    "activity_kinds",
    "eligible_regions",
    "min_amount",
    "max_amount",
    "required_swadaya_percent",
    "open_date",
    "close_date",
)


def _opportunity(app: Finder, data: Any) -> Sequence[Aggregate]:
    found = app.find(KnownOpportunity, data.opportunity_id)
    opportunity = found or KnownOpportunity(id=data.opportunity_id, partner_id=data.partner_id)
    if isinstance(data, opportunities.OpportunityPublished | opportunities.OpportunityRevised):
        terms = {name: getattr(data, name) for name in _TERMS}
        opportunity.set_terms(terms=terms, envelope=data.envelope)
    elif isinstance(data, opportunities.OpportunityClosed):
        opportunity.end(status="closed")
    elif isinstance(data, opportunities.OpportunityCancelled):
        opportunity.end(status="cancelled")
    elif isinstance(data, opportunities.EnvelopeCommitted | opportunities.EnvelopeReleased):
        opportunity.follow_envelope(data.agreement_id, data.envelope, data.committed)
    return [opportunity] if opportunity.pending_events else []


# -- matching ----------------------------------------------------------------------------------


def _match(app: Finder, data: Any) -> Sequence[Aggregate]:
    match = app.find(KnownMatch, data.match_id)
    if isinstance(data, matching.MatchProposed):
        if match is None:
            match = KnownMatch(
                id=data.match_id,
                activity_id=data.activity_id,
                plan_id=data.plan_id,
                opportunity_id=data.opportunity_id,
                bkm_id=data.bkm_id,
            )
        elif match.withdrawn:
            match.repropose()
    elif match is not None and not match.withdrawn:
        match.withdraw()
    return [match] if match is not None and match.pending_events else []


_BKM_EVENTS = (
    registry.BkmRegistered,
    registry.BkmUnitAdded,
    registry.BkmUnitRemoved,
    registry.BkmBankAccountChanged,
    registry.BkmBankAccountConfirmed,
    registry.BkmVerified,
    registry.BkmSuspended,
    registry.BkmReinstated,
)
_PLANNING_EVENTS = (
    planning.PlanDrafted,
    planning.PlanActivityAdded,
    planning.PlanActivityRevised,
    planning.PlanActivityRemoved,
    planning.PlanSubmitted,
    planning.PlanEndorsed,
    planning.PlanRevisionOpened,
    planning.ActivityChannellingOpened,
    planning.ActivityChannellingCancelled,
    planning.ActivityFundingUpdated,
)
_OPPORTUNITY_EVENTS = (
    opportunities.OpportunityDrafted,
    opportunities.OpportunityPublished,
    opportunities.OpportunityRevised,
    opportunities.OpportunityClosed,
    opportunities.OpportunityCancelled,
    opportunities.EnvelopeCommitted,
    opportunities.EnvelopeReleased,
)
Handler = Callable[[Finder, Any], Sequence[Aggregate]]
_HANDLERS: tuple[tuple[tuple[type[IntegrationEvent], ...], Handler], ...] = (
    (_BKM_EVENTS, _bkm),
    ((registry.PartnerRegistered, registry.PartnerVerified), _partner),
    (_PLANNING_EVENTS, _plan),
    (_OPPORTUNITY_EVENTS, _opportunity),
    ((matching.MatchProposed, matching.MatchWithdrawn), _match),
)
# What `follow` acts on; the rest of its topics' events change nothing here.
HANDLED: tuple[type[IntegrationEvent], ...] = tuple(
    kind for kinds, _ in _HANDLERS for kind in kinds
)
