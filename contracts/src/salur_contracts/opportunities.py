"""The opportunities service's public events: funding opportunities partners offer, and
their envelopes.

Every event's subject is the opportunity (so one opportunity's events stay in order) and
every event names the partner offering it. `OpportunityPublished` and `OpportunityRevised`
carry the complete terms, so a consumer (matching, partnerships, an agency) never needs the
earlier events of an opportunity to know what it offers now. Envelope events carry the
running totals, not only the change, for the same reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from salur_contracts.base import IntegrationEvent
from salur_contracts.values import (
    ActivityKind,
    Aspect,
    Currency,
    Money,
    PartnerId,
    Percentage,
    PositiveMoney,
    RegionPrefix,
    SubjectId,
)

_OPPORTUNITY_ID = "9e7c5a3b-1d2f-4e6a-8b0c-2d4e6f8a0b1c"
_PARTNER_ID = "8a1d5e22-0b3c-4f6e-a7d9-51c2e4b6f803"
_AGREEMENT_ID = "6c0e7f3a-2b9d-4e51-8f1c-a4d7b2e9c013"
_OFFICER = "officer-8a1d5e22"

SourceKind = Literal[
    "apbd",
    "central_programme",
    "csr",
    "bank_credit",
    "grant",
    "in_kind",
]
"""Where the money comes from: the local budget (APBD), a central-government sector
programme, company CSR, bank credit (e.g. KUR), a grant, or contributions in kind."""

ClosedBecause = Literal["close_date_reached", "closed_by_partner"]

OpportunityId = Annotated[
    UUID,
    Field(
        description="Id of the opportunity (aggregate id, Kafka key).", examples=[_OPPORTUNITY_ID]
    ),
]
OfferingPartner = Annotated[
    PartnerId, Field(description="The partner offering the opportunity.", examples=[_PARTNER_ID])
]
Revision = Annotated[
    int,
    Field(
        ge=1, description="Revision of the terms: 1 when published, +1 per revision.", examples=[1]
    ),
]
Actor = Annotated[SubjectId, Field(min_length=1, max_length=200)]
IdrCurrency = Annotated[
    Currency, Field(description="ISO 4217 currency of every amount: IDR.", examples=["IDR"])
]


class _OpportunitiesEvent(IntegrationEvent):
    source_service: ClassVar[str] = "opportunities"
    version: ClassVar[int] = 1
    subject_field: ClassVar[str] = "opportunity_id"

    opportunity_id: OpportunityId
    partner_id: OfferingPartner


class OpportunityDrafted(_OpportunitiesEvent):
    """A partner officer started drafting an opportunity; it is not offered yet."""

    title: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="Working title of the draft.", examples=["Program CSR Air Bersih 2027"]
    )
    drafted_by: Actor = Field(description="Subject id of the officer.", examples=[_OFFICER])


class _Terms(_OpportunitiesEvent):
    """The complete terms of an open opportunity, as of one revision."""

    revision: Revision
    partner_name: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="Name of the offering partner.", examples=["PT Sinar Nusantara Tbk"]
    )
    title: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="Title of the opportunity.", examples=["Program CSR Air Bersih 2027"]
    )
    description: Annotated[str, Field(max_length=4000)] = Field(
        description="What the partner offers and why.",
        examples=["Dana CSR untuk sarana air bersih di kelurahan padat penduduk."],
    )
    source_kind: SourceKind = Field(description="Where the money comes from.", examples=["csr"])
    budget_code: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        description="The APBD programme/activity code (kode program/kegiatan) for `apbd`.",
        examples=[None],
    )
    aspects: Annotated[list[Aspect], Field(min_length=1, max_length=3)] = Field(
        description="Tridaya aspects the opportunity funds.", examples=[["environment"]]
    )
    activity_kinds: Annotated[list[ActivityKind], Field(min_length=1, max_length=50)] = Field(
        description="Activity kinds the opportunity funds.",
        examples=[["clean_water", "sanitation"]],
    )
    eligible_regions: Annotated[list[RegionPrefix], Field(min_length=1, max_length=500)] = Field(
        description="Region-code prefixes where activities are eligible (`32.73` is a city).",
        examples=[["32.73"]],
    )
    min_amount: PositiveMoney = Field(
        description="Smallest amount funded per activity.", examples=["25000000.00"]
    )
    max_amount: PositiveMoney = Field(
        description="Largest amount funded per activity.", examples=["150000000.00"]
    )
    envelope: PositiveMoney = Field(
        description="Total amount the opportunity can commit.", examples=["1000000000.00"]
    )
    currency: IdrCurrency
    required_swadaya_percent: Percentage = Field(
        description="Self-help share (swadaya) an activity must bring, in percent of its cost.",
        examples=["10"],
    )
    open_date: dt.date = Field(
        description="First day proposals are taken.", examples=["2027-01-01"]
    )
    close_date: dt.date = Field(
        description="Last day proposals are taken.", examples=["2027-06-30"]
    )
    requirements: Annotated[str, Field(max_length=4000)] = Field(
        description="What a proposal must include, in the partner's words.",
        examples=["Proposal, RAB, berita acara rembug warga."],
    )


class OpportunityPublished(_Terms):
    """A verified partner opened an opportunity: proposals may come in from its open date."""

    published_by: Actor = Field(description="Subject id of the officer.", examples=[_OFFICER])


class OpportunityRevised(_Terms):
    """The terms of an open opportunity changed; the event carries the new terms in full."""

    revised_by: Actor = Field(description="Subject id of the officer.", examples=[_OFFICER])


class OpportunityClosed(_OpportunitiesEvent):
    """The opportunity takes no more proposals; agreements already signed stand."""

    closed_because: ClosedBecause = Field(
        description="Its close date passed, or the partner closed it.",
        examples=["close_date_reached"],
    )
    closed_on: dt.date = Field(description="Day it closed.", examples=["2027-07-01"])


class OpportunityCancelled(_OpportunitiesEvent):
    """The partner withdrew the opportunity before it committed anything."""

    reason: Annotated[str, Field(min_length=1, max_length=1000)] = Field(
        description="Why it was cancelled.", examples=["Anggaran dialihkan"]
    )
    cancelled_by: Actor = Field(description="Subject id of the officer.", examples=[_OFFICER])


class _EnvelopeEvent(_OpportunitiesEvent):
    agreement_id: UUID = Field(
        description="The partnerships agreement that moved the envelope.",
        examples=[_AGREEMENT_ID],
    )
    amount: PositiveMoney = Field(description="How much moved.", examples=["75000000.00"])
    envelope: PositiveMoney = Field(description="The whole envelope.", examples=["1000000000.00"])
    committed: Money = Field(
        description="Total committed after this change.", examples=["75000000.00"]
    )
    remaining: Money = Field(
        description="Envelope minus committed after this change.", examples=["925000000.00"]
    )
    currency: IdrCurrency


class EnvelopeCommitted(_EnvelopeEvent):
    """A signed agreement committed part of the envelope."""


class EnvelopeReleased(_EnvelopeEvent):
    """A terminated agreement returned its unspent part of the envelope."""


class EnvelopeExhausted(_OpportunitiesEvent):
    """What remains of the envelope is below the smallest amount funded per activity, so no
    new agreement can be signed against it."""

    remaining: Money = Field(description="What remains of the envelope.", examples=["0.00"])
    min_amount: PositiveMoney = Field(
        description="Smallest amount funded per activity.", examples=["25000000.00"]
    )
    currency: IdrCurrency
