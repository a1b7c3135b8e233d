"""Test support: the facts other services publish, told to partnerships as its consumer would.

Every fact is a real contract event (built from the catalogue's examples with the ids of
the test), applied through the same tracked effects the Kafka consumer uses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import count
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import Tracking
from salur_contracts import opportunities, planning, registry
from salur_contracts.base import IntegrationEvent
from salur_contracts.cloudevents import new_envelope
from salur_kit.auth import Principal, Role
from salur_kit.consumer import EventSourcedEffects
from salur_partnerships.application import PartnershipsApplication
from salur_partnerships.domain import Terms
from salur_partnerships.money import PlannedTranche, schedule

REGION = "32.73.01.1001"
ACCOUNT = "0123456789"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def fact(event: type[IntegrationEvent], **values: Any) -> IntegrationEvent:
    """A contract event: the catalogue's example values, overridden by `values`."""
    examples = {n: f.examples[0] for n, f in event.model_fields.items() if f.examples}
    return event.model_validate({**examples, **values})


@dataclass
class World:
    """One BKM with a plan activity open for channelling, one partner with an open
    opportunity; ids fresh per test."""

    app: PartnershipsApplication
    bkm_id: UUID = field(default_factory=uuid4)
    partner_id: UUID = field(default_factory=uuid4)
    plan_id: UUID = field(default_factory=uuid4)
    activity_id: UUID = field(default_factory=uuid4)
    opportunity_id: UUID = field(default_factory=uuid4)
    versions: dict[UUID, Iterator[int]] = field(default_factory=dict)

    @property
    def operator(self) -> Principal:
        return Principal("operator-test", Role.bkm_operator, organisation_id=self.bkm_id)

    @property
    def officer(self) -> Principal:
        return Principal("officer-test", Role.partner_officer, organisation_id=self.partner_id)

    def tell(self, data: IntegrationEvent) -> None:
        subject = UUID(data.subject)
        version = next(self.versions.setdefault(subject, count(1)))
        envelope = new_envelope(data, aggregate_version=version)
        tracking = Tracking(f"partnerships:{envelope.source}:{envelope.subject}", version)
        EventSourcedEffects(self.app, self.app.policy).apply(envelope, tracking)

    def bkm(self, *, verified: bool = True, account: str | None = "confirmed") -> None:
        ids = {"bkm_id": self.bkm_id, "region_code": REGION}
        self.tell(fact(registry.BkmRegistered, **ids))
        if verified:
            self.tell(fact(registry.BkmVerified, **ids))
        if account is not None:
            self.tell(
                fact(
                    registry.BkmBankAccountChanged,
                    **ids,
                    account_number=ACCOUNT,
                    confirmation=account,
                )
            )

    def partner(self) -> None:
        self.tell(fact(registry.PartnerRegistered, partner_id=self.partner_id))
        self.tell(fact(registry.PartnerVerified, partner_id=self.partner_id))

    def activity(self, amount_needed: str = "100000000.00") -> None:
        ids = {"plan_id": self.plan_id, "bkm_id": self.bkm_id, "region_code": REGION}
        self.tell(fact(planning.PlanDrafted, **ids))
        self.tell(
            fact(
                planning.PlanActivityAdded,
                **ids,
                activity_id=self.activity_id,
                location_region_code=REGION,
            )
        )
        self.tell(
            fact(
                planning.ActivityChannellingOpened,
                **ids,
                activity_id=self.activity_id,
                location_region_code=REGION,
                amount_needed=amount_needed,
            )
        )

    def opportunity(self, envelope: str = "1000000000.00") -> None:
        ids = {"opportunity_id": self.opportunity_id, "partner_id": self.partner_id}
        self.tell(
            fact(
                opportunities.OpportunityPublished,
                **ids,
                envelope=envelope,
                activity_kinds=["drainage", "clean_water"],
            )
        )

    def envelope_committed(self, agreement_id: UUID, committed: str, envelope: str) -> None:
        self.tell(
            fact(
                opportunities.EnvelopeCommitted,
                opportunity_id=self.opportunity_id,
                partner_id=self.partner_id,
                agreement_id=agreement_id,
                amount=committed,
                envelope=envelope,
                committed=committed,
                remaining=str(Decimal(envelope) - Decimal(committed)),
            )
        )

    def everything(self, envelope: str = "1000000000.00") -> World:
        self.bkm()
        self.partner()
        self.activity()
        self.opportunity(envelope)
        return self

    # -- commands as the parties would give them ---------------------------------------------

    def proposal(self, amount: str = "75000000.00") -> UUID:
        proposal = self.app.submit_proposal(
            self.operator,
            match_id=None,
            plan_id=self.plan_id,
            activity_id=self.activity_id,
            opportunity_id=self.opportunity_id,
            amount_requested=Decimal(amount),
            swadaya_amount=Decimal("15000000.00"),
            work_plan="Galian, pasangan batu, serah terima",
        )
        return proposal.id

    def agreement(
        self,
        amount: str = "75000000.00",
        tranches: tuple[str, ...] = ("25000000.00",) * 3,
        *,
        report_first: bool = True,
    ) -> UUID:
        proposal_id = self.proposal(amount)
        self.app.accept_proposal(self.officer, proposal_id, None)
        planned = [PlannedTranche(f"syarat {n}", Decimal(a)) for n, a in enumerate(tranches)]
        terms = Terms(
            amount=Decimal(amount),
            tranches=schedule(Decimal(amount), planned),
            report_before_next_tranche=report_first,
            reporting_duty="Laporan per tahap",
            start_date=dt.date(2027, 2, 1),
            end_date=dt.date(2027, 12, 31),
            document_sha256=SHA,
        )
        return self.app.draw_agreement(self.officer, proposal_id, terms, None).id

    def signed(self, amount: str = "75000000.00", **kwargs: Any) -> UUID:
        agreement_id = self.agreement(amount, **kwargs)
        self.app.sign(self.officer, agreement_id, "partner", None)
        self.app.sign(self.operator, agreement_id, "bkm", None)
        return agreement_id

    def disburse(self, agreement_id: UUID, number: int, amount: str = "25000000.00") -> None:
        self.app.disburse(
            self.officer,
            agreement_id,
            number,
            amount=Decimal(amount),
            transfer_reference=f"BRI-{agreement_id.hex[:8]}-{number}",
            disbursed_on=dt.date(2027, 2, 10),
            destination_account=None,
            expected=None,
        )

    def receive(self, agreement_id: UUID, number: int) -> None:
        self.app.confirm_receipt(self.operator, agreement_id, number, dt.date(2027, 2, 11), None)

    def report(self, agreement_id: UUID, tranche: int, *amounts: str) -> int:
        lines = [
            {
                "spent_on": dt.date(2027, 3, 2),
                "category": "material",
                "amount": Decimal(a),
                "payee": "TB Maju Jaya",
                "evidence_sha256": SHA,
            }
            for a in amounts
        ]
        _, number = self.app.report_realisation(
            self.operator,
            agreement_id,
            tranche_number=tranche,
            lines=lines,
            physical_progress_percent=40,
            beneficiaries_reached=100,
            expected=None,
        )
        return number
