"""Matching's composition: its application, read-only edge and one tracked consumer on the kit."""

from __future__ import annotations

from salur_contracts.matching import MatchProposed
from salur_kit.eventstore import ServiceApplication
from salur_kit.runtime import ConsumerSpec, ServiceSpec

from salur_matching.api import router
from salur_matching.application import MatchingApplication, MatchingEffects
from salur_matching.engine import HANDLED
from salur_matching.integration import to_integration


def effects(app: ServiceApplication) -> MatchingEffects:
    assert isinstance(app, MatchingApplication)
    return MatchingEffects(app)


CONSUMER = ConsumerSpec(group="matching", handles=HANDLED, effects=effects)
# Registry's, planning's and opportunities' topics, in that order (a rebuild reads them).
INPUT_TOPICS = CONSUMER.topics

SPEC = ServiceSpec(
    name="matching",
    version="0.1.0",
    application=MatchingApplication,
    router=router,
    to_integration=to_integration,
    topic=MatchProposed.topic(),
    consumers=(CONSUMER,),
)
