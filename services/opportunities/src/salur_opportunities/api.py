"""Opportunities HTTP edge: parse one model, call one use case, return one model."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, Field
from salur_contracts.opportunities import SourceKind
from salur_contracts.values import (
    ActivityKind,
    Aspect,
    Money,
    Percentage,
    PositiveMoney,
    RegionPrefix,
)
from salur_kit.auth import Principal, current_principal, optional_principal
from salur_kit.http import CommandModel, application_of, command_router, expected_version, set_etag

from salur_opportunities import readmodel
from salur_opportunities.application import OpportunitiesApplication
from salur_opportunities.domain import Opportunity, Terms

router = command_router()
Caller = Annotated[Principal, Depends(current_principal)]
Reader = Annotated[Principal | None, Depends(optional_principal)]
Expected = Annotated[int | None, Depends(expected_version)]
Text = Annotated[str, Field(max_length=4000)]


App = Annotated[OpportunitiesApplication, Depends(application_of(OpportunitiesApplication))]

# -- models ----------------------------------------------------------------------------------


class TermsIn(CommandModel):
    """The complete terms; a change sends them all again (they are versioned as a whole)."""

    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Text = ""
    source_kind: SourceKind
    budget_code: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="APBD programme/activity code; required for `apbd` only"
    )
    aspects: Annotated[list[Aspect], Field(min_length=1, max_length=3)]
    activity_kinds: Annotated[list[ActivityKind], Field(min_length=1, max_length=50)]
    eligible_regions: Annotated[list[RegionPrefix], Field(min_length=1, max_length=500)] = Field(
        description="region-code prefixes, e.g. 32.73 for a whole city", examples=[["32.73"]]
    )
    min_amount: PositiveMoney = Field(examples=["25000000.00"])
    max_amount: PositiveMoney = Field(description="at most the envelope", examples=["1.00"])
    envelope: PositiveMoney = Field(examples=["1000000000.00"])
    required_swadaya_percent: Percentage = Field(examples=["10"])
    open_date: dt.date
    close_date: dt.date = Field(description="last day proposals are taken; not before open_date")
    requirements: Text = ""

    def to_domain(self) -> Terms:
        return Terms(
            title=self.title,
            description=self.description,
            source_kind=self.source_kind,
            budget_code=self.budget_code,
            aspects=tuple(self.aspects),
            activity_kinds=tuple(self.activity_kinds),
            eligible_regions=tuple(self.eligible_regions),
            min_amount=self.min_amount,
            max_amount=self.max_amount,
            envelope=self.envelope,
            required_swadaya_percent=Decimal(self.required_swadaya_percent),
            open_date=self.open_date,
            close_date=self.close_date,
            requirements=self.requirements,
        )


class DraftIn(TermsIn):
    partner_id: UUID = Field(description="the officer's own partner")


class CancelIn(CommandModel):
    reason: Annotated[str, Field(min_length=1, max_length=1000)]


class TermsOut(BaseModel):
    title: str
    description: str
    source_kind: str
    budget_code: str | None
    aspects: list[str]
    activity_kinds: list[str]
    eligible_regions: list[str]
    min_amount: Money
    max_amount: Money
    envelope: Money
    required_swadaya_percent: Decimal
    open_date: dt.date
    close_date: dt.date
    requirements: str

    @classmethod
    def of(cls, terms: Terms) -> TermsOut:
        return cls.model_validate(terms.state())


class RevisionOut(BaseModel):
    revision: int
    on: dt.date
    by: str
    terms: TermsOut


class OpportunityOut(BaseModel):
    opportunity_id: UUID
    partner_id: UUID
    partner_name: str | None = Field(description="set once published")
    status: Literal["draft", "open", "closed", "cancelled"]
    revision: int = Field(description="revision of the terms shown; 0 while drafted")
    terms: TermsOut
    committed: Money
    remaining: Money
    exhausted: bool = Field(description="what remains cannot fund the smallest amount")
    closed_on: dt.date | None
    revisions: list[RevisionOut] = Field(description="every published revision, oldest first")
    version: int = Field(description="aggregate version: send it back as If-Match")

    @classmethod
    def of(cls, o: Opportunity) -> OpportunityOut:
        return cls(
            opportunity_id=o.id,
            partner_id=o.partner_id,
            partner_name=o.partner_name or None,
            status=o.status,
            revision=o.revision,
            terms=TermsOut.of(o.terms),
            committed=o.committed,
            remaining=o.remaining,
            exhausted=o.exhausted,
            closed_on=o.closed_on,
            revisions=[
                RevisionOut(revision=r.number, on=r.on, by=r.by, terms=TermsOut.of(r.terms))
                for r in o.revisions
            ],
            version=o.version,
        )


class CommitmentOut(BaseModel):
    agreement_id: UUID
    amount: Money
    disbursed: Money
    released: Money
    state: Literal["signed", "terminated"]


class EnvelopeOut(BaseModel):
    opportunity_id: UUID
    envelope: Money
    committed: Money
    remaining: Money
    exhausted: bool
    commitments: list[CommitmentOut]


class OpenOpportunityOut(BaseModel):
    opportunity_id: UUID
    partner_id: UUID
    partner_name: str
    revision: int
    title: str
    source_kind: str
    aspects: list[str]
    activity_kinds: list[str]
    eligible_regions: list[str]
    min_amount: Money
    max_amount: Money
    envelope: Money
    committed: Money
    remaining: Money
    required_swadaya_percent: Decimal
    open_date: dt.date
    close_date: dt.date


class Page(BaseModel):
    items: list[OpenOpportunityOut]
    next_after: int | None = Field(description="pass as `after` for the next page")


def _shown(response: Response, opportunity: Opportunity) -> OpportunityOut:
    set_etag(response, opportunity.version)
    return OpportunityOut.of(opportunity)


# -- commands --------------------------------------------------------------------------------


@router.post("/opportunities", status_code=201, tags=["opportunities"])
def draft_opportunity(
    body: DraftIn, caller: Caller, app: App, response: Response
) -> OpportunityOut:
    opportunity = app.draft_opportunity(caller, partner_id=body.partner_id, terms=body.to_domain())
    response.headers["Location"] = f"/opportunities/{opportunity.id}"
    return _shown(response, opportunity)


@router.put("/opportunities/{opportunity_id}/terms", tags=["opportunities"])
def change_terms(
    opportunity_id: UUID,
    body: TermsIn,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> OpportunityOut:
    """Edit a draft, or revise an open opportunity (a new, public revision)."""
    opportunity = app.change_terms(caller, opportunity_id, body.to_domain(), expected)
    return _shown(response, opportunity)


@router.post("/opportunities/{opportunity_id}/publication", tags=["opportunities"])
def publish_opportunity(
    opportunity_id: UUID, caller: Caller, app: App, expected: Expected, response: Response
) -> OpportunityOut:
    return _shown(response, app.publish_opportunity(caller, opportunity_id, expected))


@router.post("/opportunities/{opportunity_id}/closure", tags=["opportunities"])
def close_opportunity(
    opportunity_id: UUID, caller: Caller, app: App, expected: Expected, response: Response
) -> OpportunityOut:
    return _shown(response, app.close_opportunity(caller, opportunity_id, expected))


@router.post("/opportunities/{opportunity_id}/cancellation", tags=["opportunities"])
def cancel_opportunity(
    opportunity_id: UUID,
    body: CancelIn,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> OpportunityOut:
    opportunity = app.cancel_opportunity(caller, opportunity_id, body.reason, expected)
    return _shown(response, opportunity)


# -- queries ---------------------------------------------------------------------------------


@router.get("/opportunities/{opportunity_id}", tags=["opportunities"])
def get_opportunity(
    opportunity_id: UUID, reader: Reader, app: App, response: Response
) -> OpportunityOut:
    """With its revision history. Anyone reads a published one; a draft only its officers."""
    return _shown(response, app.get_opportunity(reader, opportunity_id))


@router.get("/opportunities/{opportunity_id}/envelope", tags=["opportunities"])
def get_envelope(opportunity_id: UUID, reader: Reader, app: App) -> EnvelopeOut:
    """What remains to commit, read from the aggregate itself (never behind the events)."""
    o = app.get_opportunity(reader, opportunity_id)
    return EnvelopeOut.model_validate(
        {
            "opportunity_id": o.id,
            "envelope": o.terms.envelope,
            "committed": o.committed,
            "remaining": o.remaining,
            "exhausted": o.exhausted,
            "commitments": [{"agreement_id": k, **vars(c)} for k, c in o.commitments.items()],
        }
    )


@router.get("/opportunities", response_model=Page, tags=["opportunities"])
async def list_open_opportunities(
    request: Request,
    reader: Reader,
    region: Annotated[
        RegionPrefix | None,
        Query(description="a region code (or prefix): opportunities eligible there"),
    ] = None,
    aspect: Aspect | None = None,
    kind: ActivityKind | None = None,
    amount: Annotated[
        PositiveMoney | None,
        Query(description="an amount the opportunity can fund for one activity now"),
    ] = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """Open opportunities, oldest first; everyone may read them."""
    async with request.app.state.read_pool.connection() as conn:
        # One statement needs no transaction: autocommit spares a BEGIN and a COMMIT round
        # trip on the hottest read (restored before the connection goes back to the pool).
        await conn.set_autocommit(True)
        try:
            page = await readmodel.open_page(
                conn,
                region=region,
                aspect=aspect,
                kind=kind,
                amount=amount,
                after=after,
                limit=limit,
            )
        finally:
            await conn.set_autocommit(False)
    # Rendered by Postgres in `Page`'s shape (see readmodel.open_page): passed through.
    return Response(page, media_type="application/json")
