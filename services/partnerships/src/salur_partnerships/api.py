"""Partnerships HTTP edge: parse one model, call one use case, return one model."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from fastapi import Depends, Path, Request, Response
from pydantic import BaseModel, Field, model_validator
from salur_contracts.values import Money, PositiveMoney
from salur_kit.auth import Principal, current_principal
from salur_kit.http import CommandModel, application_of, command_router, expected_version, set_etag

from salur_partnerships import readmodel
from salur_partnerships.application import PartnershipsApplication
from salur_partnerships.domain import Agreement, Proposal, Terms
from salur_partnerships.money import PlannedTranche, schedule

router = command_router()
Caller = Annotated[Principal, Depends(current_principal)]
Expected = Annotated[int | None, Depends(expected_version)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Reference = Annotated[str, Field(min_length=1, max_length=200)]
TrancheNumber = Annotated[int, Field(ge=1, le=24)]
TrancheInPath = Annotated[int, Path(ge=1, le=24)]
ReportInPath = Annotated[int, Path(ge=1, le=10_000)]


App = Annotated[PartnershipsApplication, Depends(application_of(PartnershipsApplication))]

# -- request models ----------------------------------------------------------------------------


class ProposalTerms(CommandModel):
    amount_requested: PositiveMoney = Field(examples=["75000000.00"])
    swadaya_amount: Money = Field(description="the BKM's self-help share", examples=["15000000.00"])
    work_plan: Annotated[str, Field(min_length=1, max_length=8000)]


class SubmitProposal(ProposalTerms):
    """Either `match_id` (a match matching proposed) or the activity and the opportunity."""

    match_id: UUID | None = None
    plan_id: UUID | None = None
    activity_id: UUID | None = None
    opportunity_id: UUID | None = None

    @model_validator(mode="after")
    def _target(self) -> Self:
        direct = (self.plan_id, self.activity_id, self.opportunity_id)
        if self.match_id is None and None in direct:
            raise ValueError("give match_id, or plan_id, activity_id and opportunity_id")
        return self


class ReasonIn(CommandModel):
    reason: Reason


class TrancheIn(CommandModel):
    """A tranche as an amount or as a percentage of the agreement, with its condition."""

    amount: PositiveMoney | None = None
    percent: Annotated[Decimal, Field(gt=0, le=100, decimal_places=2)] | None = None
    condition: Annotated[str, Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.amount is None) == (self.percent is None):
            raise ValueError("give exactly one of amount or percent")
        return self


class DrawAgreement(CommandModel):
    amount: PositiveMoney = Field(examples=["75000000.00"])
    tranches: Annotated[list[TrancheIn], Field(min_length=1, max_length=24)]
    report_before_next_tranche: bool = Field(
        default=True, description="tranche n+1 waits for tranche n's accepted report"
    )
    reporting_duty: Annotated[str, Field(min_length=1, max_length=2000)]
    start_date: dt.date
    end_date: dt.date
    document_sha256: Sha256

    def to_terms(self) -> Terms:
        planned = [PlannedTranche(t.condition, t.amount, t.percent) for t in self.tranches]
        return Terms(
            amount=self.amount,
            tranches=schedule(self.amount, planned),
            report_before_next_tranche=self.report_before_next_tranche,
            reporting_duty=self.reporting_duty,
            start_date=self.start_date,
            end_date=self.end_date,
            document_sha256=self.document_sha256,
        )


class Disburse(CommandModel):
    amount: PositiveMoney = Field(examples=["25000000.00"])
    transfer_reference: Reference
    disbursed_on: dt.date
    destination_account: Annotated[str, Field(pattern=r"^\d{5,20}$")] | None = Field(
        default=None, description="must be the BKM's verified account when given"
    )


class ConfirmReceipt(CommandModel):
    received_on: dt.date


class SpendingLineIn(CommandModel):
    spent_on: dt.date
    category: Annotated[str, Field(min_length=1, max_length=100)]
    amount: PositiveMoney
    payee: Annotated[str, Field(min_length=1, max_length=200)]
    evidence_sha256: Sha256


class ReportRealisation(CommandModel):
    tranche_number: TrancheNumber
    lines: Annotated[list[SpendingLineIn], Field(min_length=1, max_length=500)]
    physical_progress_percent: Annotated[int, Field(ge=0, le=100)]
    beneficiaries_reached: Annotated[int, Field(ge=0, le=10_000_000)]


class Terminate(CommandModel):
    reason: Reason
    returned_amount: Money = Field(description="exactly the unspent amount", examples=["0.00"])
    return_transfer_reference: Reference | None = None


# -- response models ---------------------------------------------------------------------------


class ProposalOut(BaseModel):
    proposal_id: UUID
    status: Literal["submitted", "accepted", "rejected", "revision_requested", "withdrawn"]
    opportunity_id: UUID
    plan_id: UUID
    activity_id: UUID
    bkm_id: UUID
    partner_id: UUID
    match_id: UUID | None
    amount_requested: Money
    swadaya_amount: Money
    work_plan: str
    revision: int
    reason: str | None
    agreement_id: UUID | None
    version: int = Field(description="aggregate version: send it back as If-Match")

    @classmethod
    def of(cls, p: Proposal) -> ProposalOut:
        parties = {k: v for k, v in p.parties.items() if k != "proposal_id"}
        return cls(
            proposal_id=p.id,
            status=p.status,
            match_id=p.match_id,
            amount_requested=p.amount_requested,
            swadaya_amount=p.swadaya_amount,
            work_plan=p.work_plan,
            revision=p.revision,
            reason=p.reason,
            agreement_id=p.agreement_id,
            version=p.version,
            **parties,
        )


class TrancheOut(BaseModel):
    number: int
    amount: Money
    condition: str
    disbursed: bool
    transfer_reference: str | None
    disbursed_on: dt.date | None
    received: bool


class ReportOut(BaseModel):
    number: int
    tranche_number: int
    amount_spent: Money
    status: Literal["submitted", "accepted", "rejected"]


class AgreementOut(BaseModel):
    agreement_id: UUID
    status: Literal["draft", "in_force", "completed", "terminated"]
    parties: dict[str, Any]
    amount: Money
    report_before_next_tranche: bool
    reporting_duty: str
    start_date: dt.date
    end_date: dt.date
    document_sha256: str
    signed_by: dict[str, str]
    tranches: list[TrancheOut]
    reports: list[ReportOut]
    disbursed: Money
    spent: Money = Field(description="accepted spending")
    returned: Money
    version: int = Field(description="aggregate version: send it back as If-Match")

    @classmethod
    def of(cls, a: Agreement) -> AgreementOut:
        t = a.terms
        return cls(
            agreement_id=a.id,
            status=a.status,
            parties={k: str(v) if isinstance(v, UUID) else v for k, v in a.parties.items()},
            amount=t.amount,
            report_before_next_tranche=t.report_before_next_tranche,
            reporting_duty=t.reporting_duty,
            start_date=t.start_date,
            end_date=t.end_date,
            document_sha256=t.document_sha256,
            signed_by={party: by for party, (by, _) in a.signed.items()},
            tranches=[
                TrancheOut(
                    number=s["number"],
                    amount=s["amount"],
                    condition=s["condition"],
                    disbursed=s["number"] in a.disbursed,
                    transfer_reference=a.disbursed.get(s["number"], {}).get("transfer_reference"),
                    disbursed_on=a.disbursed.get(s["number"], {}).get("disbursed_on"),
                    received=s["number"] in a.received,
                )
                for s in t.tranches
            ],
            reports=[ReportOut(**vars(r)) for r in a.reports.values()],
            disbursed=a.total_disbursed,
            spent=a.total_spent,
            returned=a.returned,
            version=a.version,
        )


class ReportCreated(AgreementOut):
    report_number: int


class TotalsOut(BaseModel):
    party: Literal["agreement", "bkm", "partner", "opportunity"]
    party_id: UUID
    agreements: int = Field(description="agreements in force, completed or terminated")
    committed: Money
    disbursed: Money
    spent: Money
    returned: Money


def _proposal(response: Response, proposal: Proposal) -> ProposalOut:
    set_etag(response, proposal.version)
    return ProposalOut.of(proposal)


def _agreement(response: Response, agreement: Agreement) -> AgreementOut:
    set_etag(response, agreement.version)
    return AgreementOut.of(agreement)


# -- proposals ---------------------------------------------------------------------------------


@router.post("/proposals", status_code=201, tags=["proposals"])
def submit_proposal(
    body: SubmitProposal, caller: Caller, app: App, response: Response
) -> ProposalOut:
    proposal = app.submit_proposal(caller, **body.model_dump())
    response.headers["Location"] = f"/proposals/{proposal.id}"
    return _proposal(response, proposal)


@router.get("/proposals/{proposal_id}", tags=["proposals"])
def get_proposal(proposal_id: UUID, caller: Caller, app: App, response: Response) -> ProposalOut:
    return _proposal(response, app.get_proposal(proposal_id))


@router.put("/proposals/{proposal_id}", tags=["proposals"])
def revise_proposal(
    proposal_id: UUID,
    body: ProposalTerms,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> ProposalOut:
    proposal = app.revise_proposal(caller, proposal_id, **body.model_dump(), expected=expected)
    return _proposal(response, proposal)


@router.post("/proposals/{proposal_id}/acceptance", tags=["proposals"])
def accept_proposal(
    proposal_id: UUID, caller: Caller, app: App, expected: Expected, response: Response
) -> ProposalOut:
    return _proposal(response, app.accept_proposal(caller, proposal_id, expected))


@router.post("/proposals/{proposal_id}/rejection", tags=["proposals"])
def reject_proposal(
    proposal_id: UUID,
    body: ReasonIn,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> ProposalOut:
    return _proposal(response, app.reject_proposal(caller, proposal_id, body.reason, expected))


@router.post("/proposals/{proposal_id}/revision-request", tags=["proposals"])
def request_revision(
    proposal_id: UUID,
    body: ReasonIn,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> ProposalOut:
    return _proposal(response, app.request_revision(caller, proposal_id, body.reason, expected))


@router.post("/proposals/{proposal_id}/withdrawal", tags=["proposals"])
def withdraw_proposal(
    proposal_id: UUID, caller: Caller, app: App, expected: Expected, response: Response
) -> ProposalOut:
    return _proposal(response, app.withdraw_proposal(caller, proposal_id, expected))


# -- agreements --------------------------------------------------------------------------------


@router.post("/proposals/{proposal_id}/agreement", status_code=201, tags=["agreements"])
def draw_agreement(
    proposal_id: UUID,
    body: DrawAgreement,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> AgreementOut:
    agreement = app.draw_agreement(caller, proposal_id, body.to_terms(), expected)
    response.headers["Location"] = f"/agreements/{agreement.id}"
    return _agreement(response, agreement)


@router.get("/agreements/{agreement_id}", tags=["agreements"])
def get_agreement(agreement_id: UUID, caller: Caller, app: App, response: Response) -> AgreementOut:
    return _agreement(response, app.get_agreement(agreement_id))


@router.post("/agreements/{agreement_id}/signatures/{party}", tags=["agreements"])
def sign(
    agreement_id: UUID,
    party: Literal["partner", "bkm"],
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> AgreementOut:
    return _agreement(response, app.sign(caller, agreement_id, party, expected))


@router.post("/agreements/{agreement_id}/tranches/{number}/disbursement", tags=["tranches"])
def disburse(
    agreement_id: UUID,
    number: TrancheInPath,
    body: Disburse,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> AgreementOut:
    agreement = app.disburse(caller, agreement_id, number, **body.model_dump(), expected=expected)
    return _agreement(response, agreement)


@router.post("/agreements/{agreement_id}/tranches/{number}/receipt", tags=["tranches"])
def confirm_receipt(
    agreement_id: UUID,
    number: TrancheInPath,
    body: ConfirmReceipt,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> AgreementOut:
    agreement = app.confirm_receipt(caller, agreement_id, number, body.received_on, expected)
    return _agreement(response, agreement)


@router.post("/agreements/{agreement_id}/reports", status_code=201, tags=["realisation"])
def report_realisation(
    agreement_id: UUID,
    body: ReportRealisation,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> ReportCreated:
    fields = body.model_dump()
    agreement, number = app.report_realisation(caller, agreement_id, **fields, expected=expected)
    set_etag(response, agreement.version)
    response.headers["Location"] = f"/agreements/{agreement_id}/reports/{number}"
    out = AgreementOut.of(agreement).model_dump()
    return ReportCreated(**out, report_number=number)


@router.post("/agreements/{agreement_id}/reports/{number}/acceptance", tags=["realisation"])
def accept_report(
    agreement_id: UUID,
    number: ReportInPath,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> AgreementOut:
    return _agreement(response, app.accept_report(caller, agreement_id, number, expected))


@router.post("/agreements/{agreement_id}/reports/{number}/rejection", tags=["realisation"])
def reject_report(
    agreement_id: UUID,
    number: ReportInPath,
    body: ReasonIn,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> AgreementOut:
    agreement = app.reject_report(caller, agreement_id, number, body.reason, expected)
    return _agreement(response, agreement)


@router.post("/agreements/{agreement_id}/termination", tags=["agreements"])
def terminate(
    agreement_id: UUID,
    body: Terminate,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> AgreementOut:
    agreement = app.terminate(caller, agreement_id, **body.model_dump(), expected=expected)
    return _agreement(response, agreement)


# -- totals ------------------------------------------------------------------------------------


@router.get("/totals/{party}/{party_id}", tags=["totals"])
async def totals(
    party: Literal["agreement", "bkm", "partner", "opportunity"],
    party_id: UUID,
    request: Request,
    caller: Caller,
) -> TotalsOut:
    """Committed, disbursed, spent (accepted) and returned, from the read model."""
    async with request.app.state.read_pool.connection() as conn:
        row = await readmodel.totals(conn, party, party_id)
    return TotalsOut(party=party, party_id=party_id, **row)
