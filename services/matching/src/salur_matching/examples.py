"""Contract events as the other services publish them, for tests, demos and the bench.

`Feed` numbers each aggregate's events (the CloudEvent aggregate version) the way the
producing service would, so a sequence built here can be applied, encoded or published as
it stands.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from salur_contracts import opportunities as opp
from salur_contracts import planning as plan
from salur_contracts import registry as reg
from salur_contracts.base import IntegrationEvent
from salur_contracts.cloudevents import encode, new_envelope
from salur_kit.consumer import Outcome, TrackedConsumer
from salur_kit.testing.dead_letters import KeptDeadLetters

from salur_matching.application import MatchingApplication, MatchingEffects

Versioned = tuple[IntegrationEvent, int]


@dataclass
class Feed:
    """Events in the order they were made, each with its aggregate's version."""

    events: list[Versioned] = field(default_factory=list)
    _versions: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, event: IntegrationEvent) -> Versioned:
        self._versions[event.subject] += 1
        versioned = (event, self._versions[event.subject])
        self.events.append(versioned)
        return versioned

    # -- registry ------------------------------------------------------------------------------

    def bkm(self, bkm_id: UUID, region: str, *, verified: bool = True) -> None:
        self.add(
            reg.BkmRegistered(
                bkm_id=bkm_id,
                name="BKM Mekar Sari",
                region_code=region,
                address="Jl. Cibeunying 4",
                legal_deed_number="AHU-1",
                founded_on=dt.date(2008, 3, 12),
                status="registered",
            )
        )
        if verified:
            self.add(reg.BkmVerified(bkm_id=bkm_id, region_code=region, verified_by="f"))

    def suspend(self, bkm_id: UUID, region: str) -> None:
        self.add(
            reg.BkmSuspended(bkm_id=bkm_id, region_code=region, reason="audit", suspended_by="f")
        )

    def reinstate(self, bkm_id: UUID, region: str) -> None:
        self.add(
            reg.BkmReinstated(bkm_id=bkm_id, region_code=region, reason="ok", reinstated_by="f")
        )

    def partner(self, partner_id: UUID, regions: list[str]) -> None:
        self.add(
            reg.PartnerRegistered(
                partner_id=partner_id,
                kind="company_csr",
                name="PT Sinar Nusantara",
                contact_name="Budi",
                contact_email="csr@sinar.co.id",
                contact_phone="+62 22 4201234",
                regions_of_operation=regions,
            )
        )

    # -- planning ------------------------------------------------------------------------------

    def activity(self, a: ActivitySpec, *, open_for: Decimal | None = None) -> None:
        """Planning's events for an activity added to a plan, then opened for channelling."""
        self.add(plan.PlanActivityAdded(**a.described()))
        if open_for is not None:
            self.open(a, open_for)

    def revise(self, a: ActivitySpec) -> None:
        self.add(plan.PlanActivityRevised(**a.described()))

    def open(self, a: ActivitySpec, amount: Decimal) -> None:
        self.add(
            plan.ActivityChannellingOpened(
                **a.context(),
                plan_version=1,
                activity_id=a.activity_id,
                aspect=a.aspect,
                kind=a.kind,
                location_region_code=a.region,
                planned_year=a.year,
                estimated_cost=a.cost,
                amount_needed=amount,
                opened_by="operator",
            )
        )

    def cancel(self, a: ActivitySpec) -> None:
        self.add(
            plan.ActivityChannellingCancelled(
                **a.context(), activity_id=a.activity_id, withdrawn_by="operator"
            )
        )

    def funding(self, a: ActivitySpec, status: str, *, needed: Decimal, committed: Decimal) -> None:
        self.add(
            plan.ActivityFundingUpdated(
                **a.context(),
                activity_id=a.activity_id,
                cause="agreement_signed",
                agreement_id=uuid.uuid4(),
                partner_id=uuid.uuid4(),
                partner_name="PT Sinar Nusantara",
                amount=committed,
                funding_status=status,
                amount_needed=needed,
                committed=committed,
                disbursed=Decimal("0.00"),
                outstanding=max(Decimal("0.00"), needed - committed),
            )
        )

    # -- opportunities -------------------------------------------------------------------------

    def publish(self, o: OpportunitySpec) -> None:
        self.add(opp.OpportunityPublished(**o.terms(), published_by="officer"))

    def revise_terms(self, o: OpportunitySpec) -> None:
        o.revision += 1
        self.add(opp.OpportunityRevised(**o.terms(), revised_by="officer"))

    def close(self, o: OpportunitySpec) -> None:
        self.add(
            opp.OpportunityClosed(
                opportunity_id=o.opportunity_id,
                partner_id=o.partner_id,
                closed_because="closed_by_partner",
                closed_on=dt.date(2027, 3, 1),
            )
        )

    def cancel_opportunity(self, o: OpportunitySpec) -> None:
        self.add(
            opp.OpportunityCancelled(
                opportunity_id=o.opportunity_id,
                partner_id=o.partner_id,
                reason="Anggaran dialihkan",
                cancelled_by="officer",
            )
        )

    def commit(self, o: OpportunitySpec, committed: Decimal, amount: Decimal) -> None:
        self.add(
            opp.EnvelopeCommitted(
                opportunity_id=o.opportunity_id,
                partner_id=o.partner_id,
                agreement_id=uuid.uuid4(),
                amount=amount,
                envelope=o.envelope,
                committed=committed,
                remaining=o.envelope - committed,
                currency="IDR",
            )
        )

    def exhaust(self, o: OpportunitySpec, remaining: Decimal) -> None:
        self.add(
            opp.EnvelopeExhausted(
                opportunity_id=o.opportunity_id,
                partner_id=o.partner_id,
                remaining=remaining,
                min_amount=o.min_amount,
                currency="IDR",
            )
        )


@dataclass
class ActivitySpec:
    """An activity of a plan, with the values planning's events carry."""

    bkm_id: UUID
    bkm_region: str
    region: str = "32.73.01.1001"
    aspect: str = "environment"
    kind: str = "drainage"
    cost: Decimal = Decimal("150000000.00")
    swadaya: Decimal = Decimal("15000000.00")
    poor_households: int = 120
    priority: int = 1
    year: int = 2027
    title: str = "Normalisasi saluran RW 05"
    plan_id: UUID = field(default_factory=uuid.uuid4)
    activity_id: UUID = field(default_factory=uuid.uuid4)

    def context(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "bkm_id": self.bkm_id, "region_code": self.bkm_region}

    def described(self) -> dict[str, Any]:
        return {
            **self.context(),
            "plan_version": 1,
            "activity_id": self.activity_id,
            "title": self.title,
            "description": "",
            "aspect": self.aspect,
            "kind": self.kind,
            "location_region_code": self.region,
            "rw": None,
            "rt": None,
            "poor_households": self.poor_households,
            "women": 0,
            "total_people": max(self.poor_households, 1) * 4,
            "estimated_cost": self.cost,
            "swadaya_amount": self.swadaya,
            "swadaya_percent": None,
            "blm_amount": Decimal("0.00"),
            "planned_year": self.year,
            "priority": self.priority,
        }


@dataclass
class OpportunitySpec:
    """An opportunity's terms as opportunities' events carry them."""

    partner_id: UUID
    aspects: list[str] = field(default_factory=lambda: ["environment"])
    kinds: list[str] = field(default_factory=lambda: ["drainage", "clean_water"])
    regions: list[str] = field(default_factory=lambda: ["32.73"])
    min_amount: Decimal = Decimal("25000000.00")
    max_amount: Decimal = Decimal("150000000.00")
    envelope: Decimal = Decimal("1000000000.00")
    swadaya_percent: str = "10"
    open_date: dt.date = dt.date(2027, 1, 1)
    close_date: dt.date = dt.date(2027, 6, 30)
    revision: int = 1
    opportunity_id: UUID = field(default_factory=uuid.uuid4)

    def terms(self) -> dict[str, Any]:
        return {
            "opportunity_id": self.opportunity_id,
            "partner_id": self.partner_id,
            "revision": self.revision,
            "partner_name": "PT Sinar Nusantara",
            "title": "Program CSR Air Bersih 2027",
            "description": "",
            "source_kind": "csr",
            "budget_code": None,
            "aspects": self.aspects,
            "activity_kinds": self.kinds,
            "eligible_regions": self.regions,
            "min_amount": self.min_amount,
            "max_amount": self.max_amount,
            "envelope": self.envelope,
            "currency": "IDR",
            "required_swadaya_percent": self.swadaya_percent,
            "open_date": self.open_date,
            "close_date": self.close_date,
            "requirements": "Proposal, RAB",
        }


def consumer_of(app: MatchingApplication) -> TrackedConsumer:
    """Matching's tracked consumer, as the service wires it, without a broker."""
    return TrackedConsumer(
        group="matching", topics=[], effects=MatchingEffects(app), dead_letters=KeptDeadLetters()
    )


async def deliver(consumer: TrackedConsumer, items: list[Versioned]) -> list[Outcome]:
    """Each event as a CloudEvents Kafka record through the consumer, in the given order."""
    outcomes = []
    for offset, (event, version) in enumerate(items):
        record = encode(new_envelope(event, aggregate_version=version))
        outcomes.append(
            await consumer.process(
                key=record.key,
                value=record.value,
                headers=record.headers,
                topic=event.topic(),
                partition=0,
                offset=offset,
            )
        )
    return outcomes
