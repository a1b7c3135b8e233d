"""Opportunities' composition: its application, edges, read model, consumer and the
scheduled close, on the kit."""

from __future__ import annotations

from salur_contracts.opportunities import OpportunityDrafted
from salur_kit.consumer import EventSourcedEffects
from salur_kit.eventstore import ServiceApplication
from salur_kit.runtime import ConsumerSpec, ServiceSpec

from salur_opportunities.api import router
from salur_opportunities.application import HANDLED, OpportunitiesApplication
from salur_opportunities.integration import to_integration
from salur_opportunities.readmodel import OpenOpportunities
from salur_opportunities.schedule import auto_close


def effects(app: ServiceApplication) -> EventSourcedEffects:
    """Partners' standing from registry, envelope movements from partnerships."""
    assert isinstance(app, OpportunitiesApplication)
    return EventSourcedEffects(app, app.policy)


CONSUMER = ConsumerSpec(
    group="opportunities",
    handles=HANDLED,
    effects=effects,
)

SPEC = ServiceSpec(
    name="opportunities",
    version="0.1.0",
    application=OpportunitiesApplication,
    router=router,
    to_integration=to_integration,
    topic=OpportunityDrafted.topic(),
    projections=(OpenOpportunities,),
    consumers=(CONSUMER,),
    loops=(auto_close(),),
)
