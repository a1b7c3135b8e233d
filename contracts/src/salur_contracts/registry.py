"""The registry service's public events: BKMs and partners joining and changing standing.

Every BKM event carries the kelurahan `region_code`, so a consumer can filter by region
(a facilitator's prefix, an opportunity's eligible regions) without keeping BKM state.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from salur_contracts.base import IntegrationEvent
from salur_contracts.values import (
    BankAccountConfirmation,
    BankAccountNumber,
    BkmId,
    PartnerId,
    PartnerKind,
    RegionCode,
    RegionPrefix,
    SubjectId,
    UnitKind,
)

_BKM_ID = "3f2b8c1e-6d4a-4c7b-9a51-2e8f0d6b7c90"
_PARTNER_ID = "8a1d5e22-0b3c-4f6e-a7d9-51c2e4b6f803"
_FACILITATOR = "facilitator-32.73-001"

Name = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]
Actor = Annotated[SubjectId, Field(min_length=1, max_length=200)]


class _RegistryEvent(IntegrationEvent):
    source_service: ClassVar[str] = "registry"
    version: ClassVar[int] = 1


AggregateBkmId = Annotated[
    BkmId, Field(description="Id of the BKM (aggregate id, Kafka key).", examples=[_BKM_ID])
]
KelurahanCode = Annotated[
    RegionCode,
    Field(description="Kemendagri code of the BKM's kelurahan.", examples=["32.73.01.1001"]),
]
AggregatePartnerId = Annotated[
    PartnerId,
    Field(description="Id of the partner (aggregate id, Kafka key).", examples=[_PARTNER_ID]),
]


class BkmRegistered(_RegistryEvent):
    """A BKM joined Salur; it can act only once a facilitator has verified it."""

    subject_field: ClassVar[str] = "bkm_id"
    bkm_id: AggregateBkmId
    name: Name = Field(description="Name of the BKM.", examples=["BKM Sejahtera Bersama"])
    region_code: KelurahanCode
    address: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="Postal address of the BKM's secretariat.",
        examples=["Jl. Pahlawan No. 12, Cihaur Geulis, Bandung"],
    )
    legal_deed_number: Name = Field(
        description="Number of the notarial deed that founded the BKM.",
        examples=["AHU-0012345.AH.01.07.2010"],
    )
    founded_on: dt.date = Field(description="Date the BKM was founded.", examples=["2009-03-14"])
    status: Literal["registered"] = Field(
        description="Standing after registration: always `registered`.", examples=["registered"]
    )


class BkmUnitAdded(_RegistryEvent):
    """A BKM formed a unit (UPK finance, UPL environment, UPS social)."""

    subject_field: ClassVar[str] = "bkm_id"
    bkm_id: AggregateBkmId
    region_code: KelurahanCode
    unit: UnitKind = Field(description="Kind of unit.", examples=["UPK"])
    head_name: Name = Field(description="Name of the unit's head.", examples=["Siti Rahmawati"])


class BkmUnitRemoved(_RegistryEvent):
    """A BKM dissolved one of its units."""

    subject_field: ClassVar[str] = "bkm_id"
    bkm_id: AggregateBkmId
    region_code: KelurahanCode
    unit: UnitKind = Field(description="Kind of unit removed.", examples=["UPL"])


class BkmBankAccountChanged(_RegistryEvent):
    """A BKM set the bank account that receives funds.

    For a verified BKM the new account awaits a facilitator's confirmation; until then no
    funds may be sent to it.
    """

    subject_field: ClassVar[str] = "bkm_id"
    bkm_id: AggregateBkmId
    region_code: KelurahanCode
    bank_name: Name = Field(description="Name of the bank.", examples=["Bank Rakyat Indonesia"])
    account_number: BankAccountNumber = Field(
        description="Account number: 5 to 20 digits.", examples=["0123456789"]
    )
    account_holder: Name = Field(
        description="Name the account is held in.", examples=["BKM Sejahtera Bersama"]
    )
    confirmation: BankAccountConfirmation = Field(
        description="`awaiting_confirmation` until a facilitator confirms the account.",
        examples=["awaiting_confirmation"],
    )


class BkmBankAccountConfirmed(_RegistryEvent):
    """A facilitator confirmed a BKM's bank account; funds may now go to it."""

    subject_field: ClassVar[str] = "bkm_id"
    bkm_id: AggregateBkmId
    region_code: KelurahanCode
    account_number: BankAccountNumber = Field(
        description="The account number confirmed.", examples=["0123456789"]
    )
    confirmed_by: Actor = Field(
        description="Subject id of the facilitator who confirmed.", examples=[_FACILITATOR]
    )


class BkmVerified(_RegistryEvent):
    """A facilitator verified a BKM: it may now open activities for channelling and sign."""

    subject_field: ClassVar[str] = "bkm_id"
    bkm_id: AggregateBkmId
    region_code: KelurahanCode
    verified_by: Actor = Field(
        description="Subject id of the facilitator who verified.", examples=[_FACILITATOR]
    )


class BkmSuspended(_RegistryEvent):
    """A facilitator suspended a BKM; it can neither propose nor receive funds until reinstated."""

    subject_field: ClassVar[str] = "bkm_id"
    bkm_id: AggregateBkmId
    region_code: KelurahanCode
    reason: Reason = Field(
        description="Why the BKM was suspended.", examples=["Annual report not submitted"]
    )
    suspended_by: Actor = Field(
        description="Subject id of the facilitator who suspended.", examples=[_FACILITATOR]
    )


class BkmReinstated(_RegistryEvent):
    """A facilitator lifted a BKM's suspension; it is verified again."""

    subject_field: ClassVar[str] = "bkm_id"
    bkm_id: AggregateBkmId
    region_code: KelurahanCode
    reason: Reason = Field(
        description="Why the suspension was lifted.", examples=["Annual report submitted"]
    )
    reinstated_by: Actor = Field(
        description="Subject id of the facilitator who reinstated.", examples=[_FACILITATOR]
    )


class PartnerRegistered(_RegistryEvent):
    """A funding partner joined Salur; it can publish opportunities once verified."""

    subject_field: ClassVar[str] = "partner_id"
    partner_id: AggregatePartnerId
    kind: PartnerKind = Field(description="Kind of partner.", examples=["company_csr"])
    name: Name = Field(description="Name of the partner.", examples=["PT Sinar Nusantara Tbk"])
    contact_name: Name = Field(description="Name of the contact person.", examples=["Budi Santoso"])
    contact_email: Annotated[
        str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", min_length=3, max_length=200)
    ] = Field(description="E-mail address of the contact person.", examples=["csr@sinar.co.id"])
    contact_phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{6,20}$")] = Field(
        description="Telephone number of the contact person.", examples=["+62 22 4201234"]
    )
    regions_of_operation: Annotated[list[RegionPrefix], Field(min_length=1, max_length=100)] = (
        Field(
            description="Region-code prefixes where the partner funds activities.",
            examples=[["32.73", "32.04"]],
        )
    )


class PartnerVerified(_RegistryEvent):
    """A facilitator verified a partner: its opportunities may now be published."""

    subject_field: ClassVar[str] = "partner_id"
    partner_id: AggregatePartnerId
    verified_by: Actor = Field(
        description="Subject id of the facilitator who verified.", examples=[_FACILITATOR]
    )
