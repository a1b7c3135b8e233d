"""Partnerships' composition: its application, edges, read model and consumer on the kit."""

from __future__ import annotations

from salur_contracts.partnerships import AgreementSigned
from salur_kit.consumer import EventSourcedEffects
from salur_kit.eventstore import ServiceApplication
from salur_kit.runtime import ConsumerSpec, ServiceSpec

from salur_partnerships import policy
from salur_partnerships.api import router
from salur_partnerships.application import PartnershipsApplication
from salur_partnerships.integration import to_integration
from salur_partnerships.readmodel import PartnershipTotals


def effects(app: ServiceApplication) -> EventSourcedEffects:
    """Registry, planning, opportunities and matching change only the `known` aggregates."""
    assert isinstance(app, PartnershipsApplication)
    return EventSourcedEffects(app, app.policy)


CONSUMER = ConsumerSpec(
    group="partnerships",
    handles=policy.HANDLED,
    effects=effects,
)

SPEC = ServiceSpec(
    name="partnerships",
    version="0.1.0",
    application=PartnershipsApplication,
    router=router,
    to_integration=to_integration,
    topic=AgreementSigned.topic(),
    projections=(PartnershipTotals,),
    consumers=(CONSUMER,),
)
