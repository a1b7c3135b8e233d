"""The matching service's public events: explained matches between plan activities seeking
funding and open opportunities.

A match is one (activity, opportunity) pair; its id is derived from the pair (`match_id`), so
the same pair is never proposed twice under two ids. Its events are keyed by that id.
Scores are integers in basis points (0 to 10,000) so that every reader ranks them the same
way; each reason says, in words a BKM operator understands, what earned the points.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

from salur_contracts.base import IntegrationEvent
from salur_contracts.values import (
    Aspect,
    BkmId,
    Currency,
    PartnerId,
    PositiveMoney,
    RegionCode,
)

_MATCH_ID = "5a0c6e2f-8b1d-5f3a-9c7e-4d2b0a8f6e1c"
_ACTIVITY_ID = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f"
_PLAN_ID = "b7e4a1c2-5d3f-4a6b-9c8e-1f2a3b4c5d6e"
_OPPORTUNITY_ID = "9e7c5a3b-1d2f-4e6a-8b0c-2d4e6f8a0b1c"
_BKM_ID = "3f2b8c1e-6d4a-4c7b-9a51-2e8f0d6b7c90"
_PARTNER_ID = "8a1d5e22-0b3c-4f6e-a7d9-51c2e4b6f803"

MATCH_NAMESPACE = UUID("2f1d9b7c-4e0a-4c5e-8a63-5b9d7e1f0c24")

WithdrawnBecause = Literal[
    "opportunity_closed",
    "opportunity_cancelled",
    "envelope_exhausted",
    "no_longer_eligible",
    "activity_funded",
    "activity_withdrawn",
    "bkm_suspended",
]

Score = Annotated[
    int,
    Field(ge=0, le=10_000, description="Ranking score in basis points; 10,000 is the best fit."),
]


def match_id(activity_id: UUID, opportunity_id: UUID) -> UUID:
    """The one id of the match between an activity and an opportunity."""
    return uuid5(MATCH_NAMESPACE, f"{activity_id}:{opportunity_id}")


class ScoreReason(BaseModel):
    """One criterion of the ranking: how many points it gave and why."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    criterion: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="Name of the ranking criterion.", examples=["poor_households_per_rupiah"]
    )
    points: Score = Field(description="Points this criterion contributed.", examples=[3200])
    explanation: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="The reason, in plain words.",
        examples=["Reaches 120 poor households: 1.6 per Rp 1 million asked."],
    )


class _MatchingEvent(IntegrationEvent):
    source_service: ClassVar[str] = "matching"
    version: ClassVar[int] = 1
    subject_field: ClassVar[str] = "match_id"

    match_id: UUID = Field(
        description="Id of the match (aggregate id, Kafka key), derived from the pair.",
        examples=[_MATCH_ID],
    )
    activity_id: UUID = Field(description="The plan activity.", examples=[_ACTIVITY_ID])
    plan_id: UUID = Field(description="The plan the activity belongs to.", examples=[_PLAN_ID])
    bkm_id: BkmId = Field(description="The BKM whose activity it is.", examples=[_BKM_ID])
    opportunity_id: UUID = Field(description="The opportunity.", examples=[_OPPORTUNITY_ID])
    partner_id: PartnerId = Field(
        description="The partner offering the opportunity.", examples=[_PARTNER_ID]
    )


class MatchProposed(_MatchingEvent):
    """An activity seeking funding became eligible for an open opportunity."""

    aspect: Aspect = Field(description="Tridaya aspect of the activity.", examples=["environment"])
    region_code: RegionCode = Field(
        description="Kemendagri code of the activity's location.", examples=["32.73.01.1001"]
    )
    amount_needed: PositiveMoney = Field(
        description="What the activity still needs.", examples=["75000000.00"]
    )
    currency: Annotated[Currency, Field(description="ISO 4217: IDR.", examples=["IDR"])]
    score: Score = Field(examples=[7350])
    rules_passed: Annotated[list[str], Field(min_length=1)] = Field(
        description="Names of the eligibility rules the pair passed (all of them).",
        examples=[["aspect_accepted", "kind_accepted", "region_eligible"]],
    )
    reasons: Annotated[list[ScoreReason], Field(min_length=1)] = Field(
        description="How the score was earned, criterion by criterion.",
        examples=[
            [
                {
                    "criterion": "poor_households_per_rupiah",
                    "points": 3200,
                    "explanation": "Reaches 120 poor households: 1.6 per Rp 1 million asked.",
                }
            ]
        ],
    )


class MatchWithdrawn(_MatchingEvent):
    """A proposed match no longer holds because a fact changed."""

    withdrawn_because: WithdrawnBecause = Field(
        description="Which fact changed.", examples=["envelope_exhausted"]
    )
    explanation: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="The reason, in plain words.",
        examples=["The opportunity's remaining envelope is below its minimum amount."],
    )
