"""Matching's HTTP edge, read-only: ranked, explained matches from both sides, and why a
pair is not eligible. Any authenticated caller may ask (opportunities and the activities
seeking funding are public in the programme)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from salur_contracts.matching import match_id
from salur_contracts.values import Money
from salur_kit.auth import Principal, current_principal
from salur_kit.http import application_of

from salur_matching.application import MatchingApplication
from salur_matching.engine import Ranked
from salur_matching.facts import Activity, Opportunity, from_cents
from salur_matching.ranking import Reason
from salur_matching.rules import RuleResult

router = APIRouter(tags=["matches"])
Caller = Annotated[Principal, Depends(current_principal)]
Limit = Annotated[int, Query(ge=1, le=500, description="at most this many, best first")]


App = Annotated[MatchingApplication, Depends(application_of(MatchingApplication))]


class ReasonOut(BaseModel):
    criterion: str
    points: int = Field(description="basis points this criterion gave")
    explanation: str

    @classmethod
    def of(cls, reason: Reason) -> ReasonOut:
        return cls(**reason._asdict())


class RuleOut(BaseModel):
    rule: str
    passed: bool
    explanation: str

    @classmethod
    def of(cls, result: RuleResult) -> RuleOut:
        return cls(**result._asdict())


class OpportunityOut(BaseModel):
    opportunity_id: UUID
    partner_id: UUID
    partner_name: str
    title: str
    close_date: str
    min_amount: Money
    max_amount: Money
    remaining: Money

    @classmethod
    def of(cls, o: Opportunity) -> OpportunityOut:
        return cls(
            opportunity_id=o.opportunity_id,
            partner_id=o.partner_id,
            partner_name=o.partner_name,
            title=o.title,
            close_date=o.close_date.isoformat(),
            min_amount=from_cents(o.min_amount),
            max_amount=from_cents(o.max_amount),
            remaining=from_cents(o.remaining),
        )


class ActivityOut(BaseModel):
    activity_id: UUID
    plan_id: UUID
    bkm_id: UUID
    title: str
    aspect: str
    kind: str
    region_code: str
    planned_year: int
    poor_households: int
    priority: int
    amount_needed: Money = Field(description="what the activity still needs")

    @classmethod
    def of(cls, a: Activity) -> ActivityOut:
        return cls(
            activity_id=a.activity_id,
            plan_id=a.plan_id,
            bkm_id=a.bkm_id,
            title=a.title,
            aspect=a.aspect,
            kind=a.kind,
            region_code=a.region_code,
            planned_year=a.planned_year,
            poor_households=a.poor_households,
            priority=a.priority,
            amount_needed=from_cents(a.outstanding),
        )


class MatchOut(BaseModel):
    match_id: UUID
    score: int = Field(description="basis points, 0 to 10,000")
    reasons: list[ReasonOut]
    activity: ActivityOut
    opportunity: OpportunityOut

    @classmethod
    def of(cls, ranked: Ranked) -> MatchOut:
        return cls(
            match_id=match_id(ranked.activity.activity_id, ranked.opportunity.opportunity_id),
            score=ranked.score,
            reasons=[ReasonOut.of(r) for r in ranked.reasons],
            activity=ActivityOut.of(ranked.activity),
            opportunity=OpportunityOut.of(ranked.opportunity),
        )


class EligibilityOut(BaseModel):
    match_id: UUID
    activity_id: UUID
    opportunity_id: UUID
    eligible: bool
    failed_rules: list[RuleOut] = Field(description="each failing hard rule, by name")
    rules: list[RuleOut] = Field(description="every hard rule's verdict")
    score: int | None = Field(description="when eligible")
    reasons: list[ReasonOut]


@router.get("/activities/{activity_id}/opportunities")
def opportunities_for_activity(
    activity_id: UUID, caller: Caller, app: App, limit: Limit = 50
) -> list[MatchOut]:
    """The opportunities the activity is eligible for, best first, each explained."""
    return [MatchOut.of(r) for r in app.opportunities_for(activity_id)[:limit]]


@router.get("/opportunities/{opportunity_id}/activities")
def activities_for_opportunity(
    opportunity_id: UUID, caller: Caller, app: App, limit: Limit = 50
) -> list[MatchOut]:
    """The partner's question: where would this money do most? Best first, explained."""
    return [MatchOut.of(r) for r in app.activities_for(opportunity_id)[:limit]]


@router.get("/activities/{activity_id}/opportunities/{opportunity_id}")
def eligibility(
    activity_id: UUID, opportunity_id: UUID, caller: Caller, app: App
) -> EligibilityOut:
    """Whether the pair is eligible; if not, which rules fail and why."""
    results, ranked = app.explain(activity_id, opportunity_id)
    return EligibilityOut(
        match_id=match_id(activity_id, opportunity_id),
        activity_id=activity_id,
        opportunity_id=opportunity_id,
        eligible=ranked is not None,
        failed_rules=[RuleOut.of(r) for r in results if not r.passed],
        rules=[RuleOut.of(r) for r in results],
        score=ranked.score if ranked is not None else None,
        reasons=[ReasonOut.of(r) for r in ranked.reasons] if ranked is not None else [],
    )
