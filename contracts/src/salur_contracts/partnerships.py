"""The partnerships service's public events: proposals, agreements, tranches, realisation.

The IATI transaction meanings of a partnership for one plan activity: an agreement signed
(in force, both parties signed) is a *commitment*, a tranche disbursed is a
*disbursement*, a realisation reported is an *expenditure*. Planning follows them to keep
each activity's funding status, opportunities to commit and release envelopes, and other
agencies to mirror Salur's channelling in their own books.

The four events published first (`AgreementSigned`, `TrancheDisbursed`,
`PartnershipCompleted`, `PartnershipTerminated`) grew their IATI description (receiver and
provider names, activity, aspect, region, dates) as *optional* fields, so every payload
already on Kafka stays valid; the producer always fills them. Events added later are
complete from the start.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from salur_contracts.base import IntegrationEvent
from salur_contracts.values import (
    Aspect,
    BkmId,
    Currency,
    Money,
    PartnerId,
    PartnerKind,
    PositiveMoney,
    RegionCode,
    SubjectId,
)

_AGREEMENT_ID = "6c0e7f3a-2b9d-4e51-8f1c-a4d7b2e9c013"
_PLAN_ID = "b7e4a1c2-5d3f-4a6b-9c8e-1f2a3b4c5d6e"
_ACTIVITY_ID = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f"
_BKM_ID = "3f2b8c1e-6d4a-4c7b-9a51-2e8f0d6b7c90"
_PARTNER_ID = "8a1d5e22-0b3c-4f6e-a7d9-51c2e4b6f803"
_PROPOSAL_ID = "2d4f6a8c-1e3b-4d5f-9a7c-0b2d4f6a8c1e"
_OPPORTUNITY_ID = "9e7c5a3b-1d2f-4e6a-8b0c-2d4e6f8a0b1c"
_OPERATOR = "operator-3f2b8c1e"
_OFFICER = "officer-8a1d5e22"
_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


AgreementId = Annotated[
    UUID,
    Field(
        description="Id of the agreement (aggregate id, Kafka key).",
        examples=[_AGREEMENT_ID],
    ),
]
PlanId = Annotated[
    UUID,
    Field(
        description="Id of the PJM Pronangkis (planning's plan) the activity belongs to.",
        examples=[_PLAN_ID],
    ),
]
ActivityId = Annotated[
    UUID,
    Field(
        description="Id of the plan activity the partnership funds.",
        examples=[_ACTIVITY_ID],
    ),
]
ReceiverBkm = Annotated[
    BkmId, Field(description="The BKM receiving the funds (IATI receiver).", examples=[_BKM_ID])
]
ProviderPartner = Annotated[
    PartnerId,
    Field(description="The partner providing the funds (IATI provider).", examples=[_PARTNER_ID]),
]
IdrCurrency = Annotated[
    Currency, Field(description="ISO 4217 currency of every amount: IDR.", examples=["IDR"])
]


Actor = Annotated[SubjectId, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _PartnershipsEvent(IntegrationEvent):
    """Every agreement event names the agreement, the activity it funds and both parties.

    The IATI description (names, activity, aspect, region) is optional in the schema only
    because the first payloads of v1 lacked it; the service always fills it.
    """

    # Optional fields stay optional in the published schema: old payloads lack them.
    model_config = ConfigDict(json_schema_serialization_defaults_required=False)

    source_service: ClassVar[str] = "partnerships"
    version: ClassVar[int] = 1

    agreement_id: AgreementId
    plan_id: PlanId
    activity_id: ActivityId
    bkm_id: ReceiverBkm
    partner_id: ProviderPartner
    receiver_name: Name | None = Field(
        default=None,
        description="Name of the receiving BKM (IATI receiver-org narrative).",
        examples=["BKM Sejahtera Bersama"],
    )
    provider_kind: PartnerKind | None = Field(
        default=None,
        description="Kind of the providing partner (maps to the IATI organisation type).",
        examples=["company_csr"],
    )
    activity_title: Name | None = Field(
        default=None,
        description="Title of the funded plan activity (IATI activity title).",
        examples=["Perbaikan saluran drainase RW 05"],
    )
    aspect: Aspect | None = Field(
        default=None,
        description="Tridaya aspect of the activity (IATI sector, Salur vocabulary).",
        examples=["environment"],
    )
    region_code: RegionCode | None = Field(
        default=None,
        description="Kemendagri code of the kelurahan where the activity happens (IATI location).",
        examples=["32.73.01.1001"],
    )


class AgreementSigned(_PartnershipsEvent):
    """Both parties signed: the agreement is in force and commits its amount (IATI commitment)."""

    subject_field: ClassVar[str] = "agreement_id"

    proposal_id: UUID = Field(
        description="Id of the accepted proposal the agreement comes from.",
        examples=[_PROPOSAL_ID],
    )
    partner_name: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="Name of the partner, as signed.", examples=["PT Sinar Nusantara Tbk"]
    )
    opportunity_id: UUID = Field(
        description="Id of the funding opportunity whose envelope the agreement commits.",
        examples=[_OPPORTUNITY_ID],
    )
    amount: PositiveMoney = Field(
        description="Amount committed by the agreement.", examples=["75000000.00"]
    )
    currency: IdrCurrency
    signed_on: dt.date | None = Field(
        default=None,
        description="Day the second signature made the agreement binding (IATI transaction date).",
        examples=["2027-02-01"],
    )
    start_date: dt.date | None = Field(
        default=None, description="First day of the agreed work.", examples=["2027-02-01"]
    )
    end_date: dt.date | None = Field(
        default=None, description="Last day of the agreed work.", examples=["2027-12-31"]
    )
    tranche_count: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Number of tranches in the schedule.", examples=[3]
    )


class TrancheDisbursed(_PartnershipsEvent):
    """A partner transferred one tranche of an agreement to the BKM (IATI disbursement)."""

    subject_field: ClassVar[str] = "agreement_id"

    tranche_number: Annotated[int, Field(ge=1)] = Field(
        description="Sequence number of the tranche within the agreement, from 1.", examples=[1]
    )
    amount: PositiveMoney = Field(
        description="Amount transferred in this tranche.", examples=["25000000.00"]
    )
    currency: IdrCurrency
    transfer_reference: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="The bank's reference of the transfer.", examples=["BRI-20260115-000123"]
    )
    partner_name: Name | None = Field(
        default=None,
        description="Name of the providing partner (IATI provider-org narrative).",
        examples=["PT Sinar Nusantara Tbk"],
    )
    opportunity_id: UUID | None = Field(
        default=None, description="The opportunity funding it.", examples=[_OPPORTUNITY_ID]
    )
    disbursed_on: dt.date | None = Field(
        default=None, description="Value date of the transfer.", examples=["2027-02-10"]
    )
    destination_account: Annotated[str, Field(pattern=r"^\d{5,20}$")] | None = Field(
        default=None,
        description="The BKM's verified bank account the tranche went to.",
        examples=["0123456789"],
    )
    total_disbursed: Money | None = Field(
        default=None,
        description="Sum disbursed under the agreement after this tranche.",
        examples=["25000000.00"],
    )


class PartnershipCompleted(_PartnershipsEvent):
    """Every tranche was disbursed and every realisation report accepted: the work is done."""

    subject_field: ClassVar[str] = "agreement_id"

    total_disbursed: Money = Field(
        description="Sum of all tranches disbursed under the agreement.",
        examples=["75000000.00"],
    )
    currency: IdrCurrency
    partner_name: Name | None = Field(
        default=None,
        description="Name of the providing partner.",
        examples=["PT Sinar Nusantara Tbk"],
    )
    opportunity_id: UUID | None = Field(
        default=None, description="The opportunity funding it.", examples=[_OPPORTUNITY_ID]
    )
    total_spent: Money | None = Field(
        default=None, description="Spending accepted over all reports.", examples=["75000000.00"]
    )
    completed_on: dt.date | None = Field(
        default=None, description="Day the final report was accepted.", examples=["2027-12-20"]
    )


class PartnershipTerminated(_PartnershipsEvent):
    """The agreement ended early; the BKM returned its unspent funds to the partner."""

    subject_field: ClassVar[str] = "agreement_id"

    returned_amount: Money = Field(
        description="Unspent funds the BKM returned (zero when nothing was disbursed).",
        examples=["10000000.00"],
    )
    currency: IdrCurrency
    reason: Annotated[str, Field(min_length=1, max_length=1000)] = Field(
        description="Why the agreement was terminated.", examples=["Lokasi tidak dapat dibangun"]
    )
    partner_name: Name | None = Field(
        default=None,
        description="Name of the providing partner.",
        examples=["PT Sinar Nusantara Tbk"],
    )
    opportunity_id: UUID | None = Field(
        default=None,
        description="The opportunity whose envelope gets back the unspent part.",
        examples=[_OPPORTUNITY_ID],
    )
    amount: Money | None = Field(
        default=None, description="Amount the agreement had committed.", examples=["75000000.00"]
    )
    total_disbursed: Money | None = Field(
        default=None, description="Sum disbursed before the end.", examples=["25000000.00"]
    )
    total_spent: Money | None = Field(
        default=None, description="Spending accepted before the end.", examples=["15000000.00"]
    )
    return_transfer_reference: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="Bank reference of the return transfer; none when nothing was returned.",
        examples=["BRI-20270601-000777"],
    )
    terminated_on: dt.date | None = Field(
        default=None, description="Day the agreement ended.", examples=["2027-06-01"]
    )


# -- proposals ---------------------------------------------------------------------------------

ProposalId = Annotated[
    UUID,
    Field(description="Id of the proposal (aggregate id, Kafka key).", examples=[_PROPOSAL_ID]),
]


class _ProposalEvent(IntegrationEvent):
    """Every proposal event names the proposal, the activity, the opportunity and both parties."""

    source_service: ClassVar[str] = "partnerships"
    version: ClassVar[int] = 1
    subject_field: ClassVar[str] = "proposal_id"

    proposal_id: ProposalId
    opportunity_id: UUID = Field(
        description="The opportunity proposed to.", examples=[_OPPORTUNITY_ID]
    )
    plan_id: PlanId
    activity_id: ActivityId
    bkm_id: ReceiverBkm
    partner_id: ProviderPartner


class _ProposalTerms(_ProposalEvent):
    amount_requested: PositiveMoney = Field(
        description="Amount the BKM asks the partner for.", examples=["75000000.00"]
    )
    swadaya_amount: Money = Field(
        description="Self-help share (swadaya) the BKM brings, in rupiah.",
        examples=["15000000.00"],
    )
    work_plan: Annotated[str, Field(min_length=1, max_length=8000)] = Field(
        description="The work plan: what will be done, when and by whom.",
        examples=["Minggu 1-2: galian; minggu 3-6: pasangan batu; minggu 7: serah terima."],
    )
    currency: IdrCurrency
    revision: Annotated[int, Field(ge=1)] = Field(
        description="Revision of the proposal: 1 when submitted, +1 per revision.", examples=[1]
    )


class ProposalSubmitted(_ProposalTerms):
    """A BKM operator proposed an activity of their BKM to an open opportunity."""

    match_id: UUID | None = Field(
        description="The proposed match it comes from, if any.",
        examples=["5a0c6e2f-8b1d-5f3a-9c7e-4d2b0a8f6e1c"],
    )
    submitted_by: Actor = Field(description="Subject id of the operator.", examples=[_OPERATOR])


class ProposalRevised(_ProposalTerms):
    """The BKM revised its proposal after the partner asked for changes."""

    revised_by: Actor = Field(description="Subject id of the operator.", examples=[_OPERATOR])


class ProposalRevisionRequested(_ProposalEvent):
    """The partner asked the BKM to revise its proposal."""

    reason: Reason = Field(
        description="What should change.", examples=["Rincian RAB untuk material belum ada"]
    )
    requested_by: Actor = Field(description="Subject id of the officer.", examples=[_OFFICER])


class ProposalAccepted(_ProposalEvent):
    """The partner accepted the proposal; an agreement may now be drawn up."""

    amount_requested: PositiveMoney = Field(
        description="The amount accepted.", examples=["75000000.00"]
    )
    currency: IdrCurrency
    accepted_by: Actor = Field(description="Subject id of the officer.", examples=[_OFFICER])


class ProposalRejected(_ProposalEvent):
    """The partner turned the proposal down."""

    reason: Reason = Field(description="Why.", examples=["Di luar wilayah prioritas tahun ini"])
    rejected_by: Actor = Field(description="Subject id of the officer.", examples=[_OFFICER])


class ProposalWithdrawn(_ProposalEvent):
    """The BKM withdrew its proposal before it was accepted."""

    withdrawn_by: Actor = Field(description="Subject id of the operator.", examples=[_OPERATOR])


# -- signatures ----------------------------------------------------------------------------------


class ScheduledTranche(BaseModel):
    """One tranche of an agreement's schedule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: Annotated[int, Field(ge=1)] = Field(description="Tranche number, from 1.", examples=[1])
    amount: PositiveMoney = Field(description="Amount of the tranche.", examples=["25000000.00"])
    condition: Annotated[str, Field(min_length=1, max_length=1000)] = Field(
        description="What must hold before it is released.",
        examples=["Perjanjian ditandatangani kedua pihak"],
    )


class _Signature(_PartnershipsEvent):
    subject_field: ClassVar[str] = "agreement_id"

    proposal_id: UUID = Field(description="The accepted proposal.", examples=[_PROPOSAL_ID])
    opportunity_id: UUID = Field(description="The opportunity.", examples=[_OPPORTUNITY_ID])
    amount: PositiveMoney = Field(description="Amount of the agreement.", examples=["75000000.00"])
    currency: IdrCurrency
    tranches: Annotated[list[ScheduledTranche], Field(min_length=1, max_length=24)] = Field(
        description="The tranche schedule; the amounts sum exactly to `amount`.",
        examples=[
            [
                {"number": 1, "amount": "75000000.00", "condition": "Perjanjian ditandatangani"},
            ]
        ],
    )
    report_before_next_tranche: bool = Field(
        description="Whether tranche n+1 waits for tranche n's realisation report to be accepted.",
        examples=[True],
    )
    start_date: dt.date = Field(
        description="First day of the agreed work.", examples=["2027-02-01"]
    )
    end_date: dt.date = Field(description="Last day of the agreed work.", examples=["2027-12-31"])
    document_sha256: Sha256 = Field(
        description="SHA-256 (hex) of the signed agreement document (perjanjian kerjasama).",
        examples=[_SHA256],
    )
    signed_by: Actor = Field(description="Subject id of the signatory.", examples=[_OFFICER])
    signed_on: dt.date = Field(description="Day of the signature.", examples=["2027-02-01"])


class PartnerSigned(_Signature):
    """The partner's officer signed the agreement; it is in force once the BKM signs too."""


class BkmSigned(_Signature):
    """The BKM's operator signed the agreement; it is in force once the partner signs too."""


# -- tranches and realisation ---------------------------------------------------------------------


class ReceiptConfirmed(_PartnershipsEvent):
    """The BKM confirmed it received a tranche on its account."""

    subject_field: ClassVar[str] = "agreement_id"

    tranche_number: Annotated[int, Field(ge=1)] = Field(description="The tranche.", examples=[1])
    amount: PositiveMoney = Field(description="Amount received.", examples=["25000000.00"])
    currency: IdrCurrency
    received_on: dt.date = Field(description="Day the money arrived.", examples=["2027-02-11"])
    confirmed_by: Actor = Field(description="Subject id of the operator.", examples=[_OPERATOR])


class SpendingLine(BaseModel):
    """One item of spending, with the hash of its evidence (receipt, invoice, photo)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spent_on: dt.date = Field(description="Day of the spending.", examples=["2027-03-02"])
    category: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="Budget category (material, labour, ...).", examples=["material"]
    )
    amount: PositiveMoney = Field(description="Amount spent.", examples=["12500000.00"])
    payee: Name = Field(description="Who was paid.", examples=["TB Maju Jaya"])
    evidence_sha256: Sha256 = Field(
        description="SHA-256 (hex) of the evidence document.", examples=[_SHA256]
    )


class _Realisation(_PartnershipsEvent):
    subject_field: ClassVar[str] = "agreement_id"

    report_number: Annotated[int, Field(ge=1)] = Field(
        description="Number of the report within the agreement, from 1.", examples=[1]
    )
    tranche_number: Annotated[int, Field(ge=1)] = Field(
        description="The tranche the report accounts for.", examples=[1]
    )
    amount_spent: Money = Field(
        description="Sum of the report's spending lines.", examples=["12500000.00"]
    )
    currency: IdrCurrency


class RealisationReported(_Realisation):
    """The BKM reported how it spent a tranche (IATI expenditure)."""

    partner_name: Name = Field(
        description="Name of the providing partner.", examples=["PT Sinar Nusantara Tbk"]
    )
    lines: Annotated[list[SpendingLine], Field(min_length=1, max_length=500)] = Field(
        description="The spending lines.",
        examples=[
            [
                {
                    "spent_on": "2027-03-02",
                    "category": "material",
                    "amount": "12500000.00",
                    "payee": "TB Maju Jaya",
                    "evidence_sha256": _SHA256,
                }
            ]
        ],
    )
    physical_progress_percent: Annotated[int, Field(ge=0, le=100)] = Field(
        description="Physical progress of the work, in percent.", examples=[40]
    )
    beneficiaries_reached: Annotated[int, Field(ge=0, le=10_000_000)] = Field(
        description="People reached so far.", examples=[210]
    )
    reported_on: dt.date = Field(description="Day of the report.", examples=["2027-03-15"])
    reported_by: Actor = Field(description="Subject id of the operator.", examples=[_OPERATOR])


class RealisationAccepted(_Realisation):
    """The partner accepted a realisation report."""

    total_spent: Money = Field(
        description="Spending accepted over all reports after this one.",
        examples=["12500000.00"],
    )
    accepted_by: Actor = Field(description="Subject id of the officer.", examples=[_OFFICER])


class RealisationRejected(_Realisation):
    """The partner rejected a realisation report; its spending no longer counts."""

    reason: Reason = Field(description="Why.", examples=["Bukti pembayaran tidak terbaca"])
    rejected_by: Actor = Field(description="Subject id of the officer.", examples=[_OFFICER])
