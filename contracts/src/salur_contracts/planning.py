"""The planning service's public events: PJM Pronangkis plans, their activities, and each
activity's channelling and funding.

Every event's subject is the plan (so one plan's events stay in order) and every event
carries the BKM and its kelurahan `region_code`, so a consumer can filter by BKM or region
without keeping plan state. `plan_version` is the plan's version number (1 for the first
draft, 2 after the first revision, ...), not the aggregate version of the CloudEvent.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from salur_contracts.base import IntegrationEvent
from salur_contracts.matching import Score
from salur_contracts.values import (
    ActivityKind,
    Aspect,
    BkmId,
    Money,
    PartnerId,
    Percentage,
    PositiveMoney,
    RegionCode,
    SubjectId,
)

_PLAN_ID = "b7e4a1c2-5d3f-4a6b-9c8e-1f2a3b4c5d6e"
_ACTIVITY_ID = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f"
_BKM_ID = "3f2b8c1e-6d4a-4c7b-9a51-2e8f0d6b7c90"
_OPERATOR = "operator-3f2b8c1e"

FundingStatus = Literal[
    "seeking_funding",
    "matched",
    "partially_funded",
    "funded",
    "in_progress",
    "completed",
    "withdrawn",
]
"""Where an activity opened for channelling stands with its partners' funding.

`matched` is `seeking_funding` with at least one match that matching proposed and has not
withdrawn: the activity still seeks its whole amount (a commitment takes precedence)."""

FundingCause = Literal[
    "agreement_signed",
    "tranche_disbursed",
    "partnership_completed",
    "partnership_terminated",
]

MatchCause = Literal["match_proposed", "match_withdrawn"]


PlanId = Annotated[
    UUID, Field(description="Id of the plan (aggregate id, Kafka key).", examples=[_PLAN_ID])
]
PlanBkm = Annotated[BkmId, Field(description="The BKM whose plan it is.", examples=[_BKM_ID])]
KelurahanCode = Annotated[
    RegionCode,
    Field(description="Kemendagri code of the BKM's kelurahan.", examples=["32.73.01.1001"]),
]
PlanVersion = Annotated[
    int,
    Field(ge=1, description="Version number of the plan (1, then +1 per revision).", examples=[1]),
]
ActivityId = Annotated[
    UUID,
    Field(description="Id of the activity, stable across plan versions.", examples=[_ACTIVITY_ID]),
]
Year = Annotated[int, Field(ge=2000, le=2100)]
Actor = Annotated[SubjectId, Field(min_length=1, max_length=200)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]


class _PlanningEvent(IntegrationEvent):
    source_service: ClassVar[str] = "planning"
    version: ClassVar[int] = 1

    plan_id: PlanId
    bkm_id: PlanBkm
    region_code: KelurahanCode


class PlanDrafted(_PlanningEvent):
    """A BKM operator started a PJM Pronangkis for a period of years."""

    subject_field: ClassVar[str] = "plan_id"

    plan_version: PlanVersion
    start_year: Year = Field(description="First year of the plan's period.", examples=[2026])
    end_year: Year = Field(description="Last year of the plan's period.", examples=[2028])
    drafted_by: Actor = Field(description="Subject id of the operator.", examples=[_OPERATOR])


class _ActivityEvent(_PlanningEvent):
    """The full description of an activity after the change (not a diff)."""

    plan_version: PlanVersion
    activity_id: ActivityId
    title: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="Short title.", examples=["Perbaikan saluran drainase RW 05"]
    )
    description: Annotated[str, Field(max_length=4000)] = Field(
        description="What the activity does and why.",
        examples=["Normalisasi saluran sepanjang 350 m yang sering meluap"],
    )
    aspect: Aspect = Field(description="Tridaya aspect.", examples=["environment"])
    kind: ActivityKind = Field(description="Kind of activity.", examples=["drainage"])
    location_region_code: RegionCode = Field(
        description="Kemendagri code of the kelurahan where the activity happens.",
        examples=["32.73.01.1001"],
    )
    rw: Annotated[str, Field(pattern=r"^\d{1,3}$")] | None = Field(
        description="Rukun warga (neighbourhood) number, if the activity is local to one.",
        examples=["005"],
    )
    rt: Annotated[str, Field(pattern=r"^\d{1,3}$")] | None = Field(
        description="Rukun tetangga (block) number within the RW, if any.", examples=["002"]
    )
    poor_households: Count = Field(
        description="Poor households the activity targets.", examples=[120]
    )
    women: Count = Field(description="Women among the people it targets.", examples=[260])
    total_people: Count = Field(description="People the activity targets.", examples=[540])
    estimated_cost: PositiveMoney = Field(
        description="Estimated total cost.", examples=["150000000.00"]
    )
    swadaya_amount: Money = Field(
        description="Community self-help share (swadaya), in rupiah.", examples=["15000000.00"]
    )
    swadaya_percent: Percentage | None = Field(
        description="The self-help share as a percentage of the cost, when planned that way.",
        examples=["10"],
    )
    blm_amount: Money = Field(
        description="Share funded by the programme's own block grant (BLM).",
        examples=["20000000.00"],
    )
    planned_year: Year = Field(description="Year of the period it is planned in.", examples=[2027])
    priority: Annotated[int, Field(ge=1, le=10_000)] = Field(
        description="Priority rank within the plan: 1 is the most urgent.", examples=[1]
    )


class PlanActivityAdded(_ActivityEvent):
    """An activity was added to a draft plan."""

    subject_field: ClassVar[str] = "plan_id"


class PlanActivityRevised(_ActivityEvent):
    """An activity of a draft plan was revised; the event holds its new description."""

    subject_field: ClassVar[str] = "plan_id"


class PlanActivityRemoved(_PlanningEvent):
    """An activity was removed from a draft plan."""

    subject_field: ClassVar[str] = "plan_id"

    plan_version: PlanVersion
    activity_id: ActivityId


class PlanSubmitted(_PlanningEvent):
    """The BKM submitted a plan version for endorsement; it can no longer be edited."""

    subject_field: ClassVar[str] = "plan_id"

    plan_version: PlanVersion
    activity_count: Annotated[int, Field(ge=1)] = Field(
        description="Number of activities in the version.", examples=[12]
    )
    total_cost: PositiveMoney = Field(
        description="Sum of the activities' estimated costs.", examples=["1250000000.00"]
    )
    submitted_by: Actor = Field(description="Subject id of the operator.", examples=[_OPERATOR])


class PlanEndorsed(_PlanningEvent):
    """A facilitator endorsed a plan version ratified by a community meeting (rembug warga)."""

    subject_field: ClassVar[str] = "plan_id"

    plan_version: PlanVersion
    meeting_date: dt.date = Field(
        description="Date of the rembug warga that ratified the plan.", examples=["2026-02-14"]
    )
    attendance: Annotated[int, Field(ge=1, le=100_000)] = Field(
        description="Residents who attended the rembug warga.", examples=[87]
    )
    minutes_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="SHA-256 (hex) of the signed minutes document.",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )
    endorsed_by: Actor = Field(
        description="Subject id of the endorsing facilitator.", examples=["facilitator-32.73-001"]
    )


class PlanRevisionOpened(_PlanningEvent):
    """The BKM opened a new draft version of an endorsed plan; earlier versions stay as they were.

    The new version starts with the previous version's activities.
    """

    subject_field: ClassVar[str] = "plan_id"

    plan_version: PlanVersion
    previous_version: PlanVersion
    opened_by: Actor = Field(description="Subject id of the operator.", examples=[_OPERATOR])


class ActivityChannellingOpened(_PlanningEvent):
    """The BKM opened an activity of its endorsed plan for channelling: it seeks partners'
    funding for `amount_needed`."""

    subject_field: ClassVar[str] = "plan_id"

    plan_version: PlanVersion
    activity_id: ActivityId
    aspect: Aspect = Field(description="Tridaya aspect.", examples=["environment"])
    kind: ActivityKind = Field(description="Kind of activity.", examples=["drainage"])
    location_region_code: RegionCode = Field(
        description="Kemendagri code of the kelurahan where the activity happens.",
        examples=["32.73.01.1001"],
    )
    planned_year: Year = Field(description="Year the activity is planned in.", examples=[2027])
    estimated_cost: PositiveMoney = Field(
        description="Estimated total cost.", examples=["150000000.00"]
    )
    amount_needed: PositiveMoney = Field(
        description="Amount sought from partners: at most the cost minus swadaya, BLM and "
        "funding already committed.",
        examples=["115000000.00"],
    )
    opened_by: Actor = Field(description="Subject id of the operator.", examples=[_OPERATOR])


class ActivityChannellingCancelled(_PlanningEvent):
    """The BKM withdrew an activity from channelling before any partner committed funds."""

    subject_field: ClassVar[str] = "plan_id"

    activity_id: ActivityId
    withdrawn_by: Actor = Field(description="Subject id of the operator.", examples=[_OPERATOR])


class ActivityFundingUpdated(_PlanningEvent):
    """A partnership fact changed an activity's funding; the event holds the totals after it.

    `committed` counts signed agreements at their amount and terminated ones at what was
    disbursed minus what was returned.
    """

    subject_field: ClassVar[str] = "plan_id"

    activity_id: ActivityId
    cause: FundingCause = Field(
        description="The partnerships event that changed the funding.",
        examples=["agreement_signed"],
    )
    agreement_id: UUID = Field(
        description="The agreement concerned.", examples=["6c0e7f3a-2b9d-4e51-8f1c-a4d7b2e9c013"]
    )
    partner_id: PartnerId = Field(
        description="The partner funding it.", examples=["8a1d5e22-0b3c-4f6e-a7d9-51c2e4b6f803"]
    )
    partner_name: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="Name of the partner.", examples=["PT Sinar Nusantara Tbk"]
    )
    amount: Money = Field(
        description="Amount of the fact: committed, disbursed, or returned.",
        examples=["75000000.00"],
    )
    funding_status: FundingStatus = Field(
        description="The activity's funding status after the fact.", examples=["funded"]
    )
    amount_needed: PositiveMoney = Field(
        description="Amount sought when the activity was opened.", examples=["75000000.00"]
    )
    committed: Money = Field(description="Total committed by partners.", examples=["75000000.00"])
    disbursed: Money = Field(description="Total disbursed by partners.", examples=["0.00"])
    outstanding: Money = Field(
        description="Amount still sought: needed minus committed, never below zero.",
        examples=["0.00"],
    )


class ActivityMatchesUpdated(_PlanningEvent):
    """Matching proposed or withdrew a match for an activity open for channelling.

    The event holds the activity's open matches and funding status after it: `matched`
    while nothing is committed and at least one proposed match has not been withdrawn. A
    repeated proposal or withdrawal of the same match changes nothing and is not published.
    """

    subject_field: ClassVar[str] = "plan_id"

    activity_id: ActivityId
    cause: MatchCause = Field(
        description="The matching event that changed the activity's matches.",
        examples=["match_proposed"],
    )
    match_id: UUID = Field(
        description="The match concerned (matching's id of the activity-opportunity pair).",
        examples=["5a0c6e2f-8b1d-5f3a-9c7e-4d2b0a8f6e1c"],
    )
    opportunity_id: UUID = Field(
        description="The opportunity of the match.",
        examples=["9e7c5a3b-1d2f-4e6a-8b0c-2d4e6f8a0b1c"],
    )
    partner_id: PartnerId = Field(
        description="The partner offering the opportunity.",
        examples=["8a1d5e22-0b3c-4f6e-a7d9-51c2e4b6f803"],
    )
    score: Score | None = Field(
        description="The match's score when proposed; null when withdrawn.", examples=[7350]
    )
    open_matches: Annotated[int, Field(ge=0)] = Field(
        description="Matches proposed and not withdrawn after the fact.", examples=[1]
    )
    funding_status: FundingStatus = Field(
        description="The activity's funding status after the fact.", examples=["matched"]
    )
    outstanding: Money = Field(
        description="Amount still sought: needed minus committed, never below zero.",
        examples=["75000000.00"],
    )
