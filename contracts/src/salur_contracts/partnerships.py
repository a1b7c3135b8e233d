"""The partnerships service's public events: the minimum other services consume today.

These are the IATI transaction meanings of a partnership for one plan activity: an
agreement signed is a *commitment*, a tranche disbursed is a *disbursement*. Planning
follows them to keep each activity's funding status. The partnerships service owns these
events and may extend them with optional fields within v1 (readers ignore fields they do
not know); anything else is a new version.
"""

from __future__ import annotations

from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field

from salur_contracts.base import IntegrationEvent
from salur_contracts.values import BkmId, Currency, Money, PartnerId, PositiveMoney

_AGREEMENT_ID = "6c0e7f3a-2b9d-4e51-8f1c-a4d7b2e9c013"
_PLAN_ID = "b7e4a1c2-5d3f-4a6b-9c8e-1f2a3b4c5d6e"
_ACTIVITY_ID = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f"
_BKM_ID = "3f2b8c1e-6d4a-4c7b-9a51-2e8f0d6b7c90"
_PARTNER_ID = "8a1d5e22-0b3c-4f6e-a7d9-51c2e4b6f803"


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


class _PartnershipsEvent(IntegrationEvent):
    """Every partnerships event names the agreement, the activity it funds and both parties."""

    source_service: ClassVar[str] = "partnerships"
    version: ClassVar[int] = 1

    agreement_id: AgreementId
    plan_id: PlanId
    activity_id: ActivityId
    bkm_id: ReceiverBkm
    partner_id: ProviderPartner


class AgreementSigned(_PartnershipsEvent):
    """A partner and a BKM signed an agreement funding one plan activity (IATI commitment)."""

    subject_field: ClassVar[str] = "agreement_id"

    proposal_id: UUID = Field(
        description="Id of the accepted proposal the agreement comes from.",
        examples=["2d4f6a8c-1e3b-4d5f-9a7c-0b2d4f6a8c1e"],
    )
    partner_name: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="Name of the partner, as signed.", examples=["PT Sinar Nusantara Tbk"]
    )
    opportunity_id: UUID = Field(
        description="Id of the funding opportunity whose envelope the agreement commits.",
        examples=["9e7c5a3b-1d2f-4e6a-8b0c-2d4e6f8a0b1c"],
    )
    amount: PositiveMoney = Field(
        description="Amount committed by the agreement.", examples=["75000000.00"]
    )
    currency: IdrCurrency


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


class PartnershipCompleted(_PartnershipsEvent):
    """Every tranche was disbursed and every realisation report accepted: the work is done."""

    subject_field: ClassVar[str] = "agreement_id"

    total_disbursed: Money = Field(
        description="Sum of all tranches disbursed under the agreement.",
        examples=["75000000.00"],
    )
    currency: IdrCurrency


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
