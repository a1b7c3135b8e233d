"""Planning's composition: its application, edges, read models and consumers on the kit."""

from __future__ import annotations

from salur_contracts.planning import PlanDrafted
from salur_kit.consumer import EventSourcedEffects
from salur_kit.eventstore import ServiceApplication
from salur_kit.runtime import ConsumerSpec, ServiceSpec

from salur_planning.api import router
from salur_planning.application import HANDLED, PlanningApplication
from salur_planning.integration import to_integration
from salur_planning.readmodel import PlanningLists


def effects(app: ServiceApplication) -> EventSourcedEffects:
    """BKM status from registry, funding from partnerships, matches from matching: new
    events of planning's own."""
    assert isinstance(app, PlanningApplication)
    return EventSourcedEffects(app, app.policy)


CONSUMER = ConsumerSpec(
    group="planning",
    handles=HANDLED,
    effects=effects,
)

SPEC = ServiceSpec(
    name="planning",
    version="0.1.0",
    application=PlanningApplication,
    router=router,
    to_integration=to_integration,
    topic=PlanDrafted.topic(),
    projections=(PlanningLists,),
    consumers=(CONSUMER,),
)
