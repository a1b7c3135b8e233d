"""Planning HTTP edge: parse one model, call one use case, return one model."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Annotated, Literal, Self
from uuid import UUID

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, Field, model_validator
from salur_contracts.planning import FundingStatus
from salur_contracts.values import (
    ActivityKind,
    Aspect,
    Money,
    PositiveMoney,
    RegionCode,
    RegionPrefix,
)
from salur_kit.auth import Principal, current_principal
from salur_kit.http import CommandModel, application_of, command_router, expected_version, set_etag

from salur_planning import readmodel
from salur_planning.application import PlanningApplication
from salur_planning.domain import Activity, Channelling, Plan

router = command_router()
Caller = Annotated[Principal, Depends(current_principal)]
Expected = Annotated[int | None, Depends(expected_version)]
Year = Annotated[int, Field(ge=2000, le=2100, examples=[2026])]
Count = Annotated[int, Field(ge=0, le=10_000_000)]
Neighbourhood = Annotated[str, Field(pattern=r"^\d{1,3}$", examples=["005"])]
# The funding statuses of an activity that still has an amount outstanding.
SeekingStatus = Literal["seeking_funding", "matched", "partially_funded"]


App = Annotated[PlanningApplication, Depends(application_of(PlanningApplication))]

# -- models ----------------------------------------------------------------------------------


class DraftPlan(CommandModel):
    bkm_id: UUID = Field(description="the operator's own BKM")
    start_year: Year
    end_year: Year = Field(description="last year of the period, normally start + 2")


class Location(CommandModel):
    region_code: RegionCode = Field(description="kelurahan code", examples=["32.73.01.1001"])
    rw: Neighbourhood | None = None
    rt: Neighbourhood | None = None


class Beneficiaries(CommandModel):
    poor_households: Count = 0
    women: Count = 0
    total_people: Count = 0


class Swadaya(CommandModel):
    """The self-help share: an amount, or a percentage of the estimated cost."""

    amount: Money | None = Field(default=None, examples=["15000000.00"])
    percent: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] | None = Field(
        default=None, examples=["10"]
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.amount is None) == (self.percent is None):
            raise ValueError("give exactly one of amount or percent")
        return self


class ActivityIn(CommandModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=4000)] = ""
    aspect: Aspect
    kind: ActivityKind
    location: Location
    beneficiaries: Beneficiaries
    estimated_cost: PositiveMoney = Field(examples=["150000000.00"])
    swadaya: Swadaya
    blm_amount: Money = Field(
        default=Decimal("0.00"), description="share funded by the programme's BLM grant"
    )
    planned_year: Year
    priority: Annotated[int, Field(ge=1, le=10_000)] = Field(description="1 is the most urgent")

    def to_domain(self) -> Activity:
        return Activity(
            title=self.title,
            description=self.description,
            aspect=self.aspect,
            kind=self.kind,
            location_region_code=self.location.region_code,
            rw=self.location.rw,
            rt=self.location.rt,
            poor_households=self.beneficiaries.poor_households,
            women=self.beneficiaries.women,
            total_people=self.beneficiaries.total_people,
            estimated_cost=self.estimated_cost,
            swadaya_amount=self.swadaya.amount,
            swadaya_percent=self.swadaya.percent,
            blm_amount=self.blm_amount,
            planned_year=self.planned_year,
            priority=self.priority,
        )


class Endorse(CommandModel):
    meeting_date: dt.date = Field(description="date of the rembug warga")
    attendance: Annotated[int, Field(ge=1, le=100_000)]
    minutes_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="SHA-256 (hex) of the signed minutes"
    )


class OpenChannelling(CommandModel):
    amount_needed: PositiveMoney = Field(
        description="at most the cost minus swadaya, BLM and funding already committed",
        examples=["100000000.00"],
    )


class PartnerFundingOut(BaseModel):
    agreement_id: str
    partner_id: UUID
    partner_name: str
    amount: Money
    disbursed: Money
    returned: Money
    state: Literal["signed", "completed", "terminated"]


class ChannellingOut(BaseModel):
    funding_status: FundingStatus
    amount_needed: Money
    committed: Money
    disbursed: Money
    outstanding: Money
    agreements: list[PartnerFundingOut]

    @classmethod
    def of(cls, channelling: Channelling) -> ChannellingOut:
        return cls.model_validate(
            {
                "funding_status": channelling.status,
                "amount_needed": channelling.amount_needed,
                "committed": channelling.committed,
                "disbursed": channelling.disbursed,
                "outstanding": channelling.outstanding,
                "agreements": [
                    {"agreement_id": k, **vars(a)} for k, a in channelling.agreements.items()
                ],
            }
        )


class SwadayaOut(BaseModel):
    amount: Money
    percent: Decimal | None = Field(description="set when planned as a percentage of the cost")


class ActivityOut(BaseModel):
    activity_id: UUID
    title: str
    description: str
    aspect: str
    kind: str
    location: dict[str, str | None]
    beneficiaries: dict[str, int]
    estimated_cost: Money
    swadaya: SwadayaOut
    blm_amount: Money
    planned_year: int
    priority: int
    channelling: ChannellingOut | None

    @classmethod
    def of(cls, activity_id: UUID, a: Activity, channelling: Channelling | None) -> ActivityOut:
        return cls(
            activity_id=activity_id,
            title=a.title,
            description=a.description,
            aspect=a.aspect,
            kind=a.kind,
            location={"region_code": a.location_region_code, "rw": a.rw, "rt": a.rt},
            beneficiaries={
                "poor_households": a.poor_households,
                "women": a.women,
                "total_people": a.total_people,
            },
            estimated_cost=a.estimated_cost,
            swadaya=SwadayaOut(amount=a.swadaya, percent=a.swadaya_percent),
            blm_amount=a.blm_amount,
            planned_year=a.planned_year,
            priority=a.priority,
            channelling=ChannellingOut.of(channelling) if channelling is not None else None,
        )


class EndorsementOut(BaseModel):
    meeting_date: dt.date
    attendance: int
    minutes_sha256: str
    endorsed_by: str


class PlanOut(BaseModel):
    plan_id: UUID
    bkm_id: UUID
    region_code: str
    start_year: int
    end_year: int
    plan_version: int = Field(description="the version shown")
    latest_version: int
    status: Literal["draft", "submitted", "endorsed", "superseded"]
    endorsement: EndorsementOut | None
    activities: list[ActivityOut] = Field(description="by priority")
    version: int = Field(description="aggregate version: send it back as If-Match")

    @classmethod
    def of(cls, plan: Plan, number: int | None = None) -> PlanOut:
        shown = plan.version_view(number)
        activities = sorted(shown.activities.items(), key=lambda item: item[1].priority)
        endorsement = shown.endorsement
        return cls(
            plan_id=plan.id,
            bkm_id=plan.bkm_id,
            region_code=plan.region_code,
            start_year=plan.start_year,
            end_year=plan.end_year,
            plan_version=shown.number,
            latest_version=plan.number,
            status=shown.status,
            endorsement=EndorsementOut(**vars(endorsement)) if endorsement else None,
            activities=[
                ActivityOut.of(activity_id, activity, plan.channelling.get(activity_id))
                for activity_id, activity in activities
            ],
            version=plan.version,
        )


class AspectTotals(BaseModel):
    estimated_cost: Money
    swadaya: Money
    blm: Money
    partners: Money


class PartnerTotals(BaseModel):
    partner_id: UUID
    partner_name: str
    committed: Money
    disbursed: Money


class TotalsOut(BaseModel):
    plan_id: UUID
    plan_version: int
    estimated_cost: Money
    by_aspect: dict[str, AspectTotals]
    swadaya: Money
    blm: Money
    partners: list[PartnerTotals]
    unfunded: Money = Field(description="cost not covered by swadaya, BLM or partners")


class SeekingFundingOut(BaseModel):
    activity_id: UUID
    plan_id: UUID
    bkm_id: UUID
    plan_version: int
    title: str
    aspect: str
    kind: str
    region_code: str
    planned_year: int
    priority: int
    estimated_cost: Money
    funding_status: SeekingStatus
    amount_needed: Money
    committed: Money
    outstanding: Money


class Page(BaseModel):
    items: list[SeekingFundingOut]
    next_after: int | None = Field(description="pass as `after` for the next page")


def _plan(response: Response, plan: Plan) -> PlanOut:
    set_etag(response, plan.version)
    return PlanOut.of(plan)


# -- plans -----------------------------------------------------------------------------------


@router.post("/plans", status_code=201, tags=["plans"])
def draft_plan(body: DraftPlan, caller: Caller, app: App, response: Response) -> PlanOut:
    plan = app.draft_plan(caller, **body.model_dump())
    response.headers["Location"] = f"/plans/{plan.id}"
    return _plan(response, plan)


class PlanPeriodOut(BaseModel):
    plan_id: UUID
    start_year: int
    end_year: int


@router.get("/plans", tags=["plans"])
def plans_of_bkm(bkm_id: UUID, caller: Caller, app: App) -> list[PlanPeriodOut]:
    """The plans of one BKM, oldest period first."""
    periods = sorted(app.plans_of(bkm_id).items(), key=lambda item: item[1])
    return [PlanPeriodOut(plan_id=k, start_year=s, end_year=e) for k, (s, e) in periods]


@router.get("/plans/{plan_id}", tags=["plans"])
def get_plan(
    plan_id: UUID,
    caller: Caller,
    app: App,
    response: Response,
    version: Annotated[
        int | None, Query(ge=1, description="a plan version; default latest")
    ] = None,
) -> PlanOut:
    plan = app.get_plan(plan_id)
    set_etag(response, plan.version)
    return PlanOut.of(plan, version)


@router.get("/plans/{plan_id}/totals", tags=["plans"])
def plan_totals(plan_id: UUID, caller: Caller, app: App) -> TotalsOut:
    plan = app.get_plan(plan_id)
    totals = plan.totals()
    return TotalsOut.model_validate(
        {
            **totals,
            "plan_id": plan.id,
            "plan_version": plan.number,
            "partners": [{"partner_id": k, **v} for k, v in totals["partners"].items()],
        }
    )


@router.post("/plans/{plan_id}/activities", status_code=201, tags=["plans"])
def add_activity(
    plan_id: UUID,
    body: ActivityIn,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> PlanOut:
    plan, activity_id = app.add_activity(caller, plan_id, body.to_domain(), expected)
    response.headers["Location"] = f"/plans/{plan_id}/activities/{activity_id}"
    return _plan(response, plan)


@router.put("/plans/{plan_id}/activities/{activity_id}", tags=["plans"])
def revise_activity(
    plan_id: UUID,
    activity_id: UUID,
    body: ActivityIn,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> PlanOut:
    plan = app.revise_activity(caller, plan_id, activity_id, body.to_domain(), expected)
    return _plan(response, plan)


@router.delete("/plans/{plan_id}/activities/{activity_id}", tags=["plans"])
def remove_activity(
    plan_id: UUID,
    activity_id: UUID,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> PlanOut:
    return _plan(response, app.remove_activity(caller, plan_id, activity_id, expected))


@router.post("/plans/{plan_id}/submission", tags=["plans"])
def submit_plan(
    plan_id: UUID, caller: Caller, app: App, expected: Expected, response: Response
) -> PlanOut:
    return _plan(response, app.submit_plan(caller, plan_id, expected))


@router.post("/plans/{plan_id}/endorsement", tags=["plans"])
def endorse_plan(
    plan_id: UUID, body: Endorse, caller: Caller, app: App, expected: Expected, response: Response
) -> PlanOut:
    plan = app.endorse_plan(caller, plan_id, **body.model_dump(), expected=expected)
    return _plan(response, plan)


@router.post("/plans/{plan_id}/revisions", tags=["plans"])
def open_revision(
    plan_id: UUID, caller: Caller, app: App, expected: Expected, response: Response
) -> PlanOut:
    return _plan(response, app.open_revision(caller, plan_id, expected))


# -- channelling -----------------------------------------------------------------------------


@router.post("/plans/{plan_id}/activities/{activity_id}/channelling", tags=["channelling"])
def open_channelling(
    plan_id: UUID,
    activity_id: UUID,
    body: OpenChannelling,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> PlanOut:
    plan = app.open_channelling(caller, plan_id, activity_id, body.amount_needed, expected)
    return _plan(response, plan)


@router.delete("/plans/{plan_id}/activities/{activity_id}/channelling", tags=["channelling"])
def withdraw_channelling(
    plan_id: UUID,
    activity_id: UUID,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> PlanOut:
    return _plan(response, app.withdraw_channelling(caller, plan_id, activity_id, expected))


@router.get("/activities/seeking-funding", tags=["channelling"], response_model=Page)
async def list_seeking_funding(
    request: Request,
    caller: Caller,
    region: Annotated[RegionPrefix | None, Query(description="region-code prefix")] = None,
    aspect: Aspect | None = None,
    kind: ActivityKind | None = None,
    status: Annotated[
        SeekingStatus | None,
        Query(description="matched: at least one match proposed and nothing committed yet"),
    ] = None,
    min_amount: Annotated[Money | None, Query(description="least outstanding amount")] = None,
    max_amount: Annotated[Money | None, Query(description="most outstanding amount")] = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    async with request.app.state.read_pool.connection() as conn:
        page = await readmodel.seeking_funding_page(
            conn,
            region_prefix=region,
            aspect=aspect,
            kind=kind,
            status=status,
            min_amount=min_amount,
            max_amount=max_amount,
            after=after,
            limit=limit,
        )
    # The read model renders the items in `Page`'s shape: passed through, not re-validated.
    body = f'{{"items":{page.items_json},"next_after":{json.dumps(page.next_after)}}}'
    return Response(body, media_type="application/json")
