"""Each service's consumer names the events it has an effect for, and skips the rest of its
topics unread: so every catalogued event of those topics that is not named must be one its
policy does nothing with. Checked with each event's schema example, on an empty store."""

from __future__ import annotations

import pytest
from salur_contracts import CATALOGUE
from salur_contracts.base import IntegrationEvent, example_event
from salur_contracts.cloudevents import new_envelope
from salur_kit.consumer import EventSourcedEffects
from salur_kit.eventstore import ServiceApplication, memory_env
from salur_kit.runtime import ConsumerSpec, ServiceSpec
from salur_matching.bootstrap import SPEC as MATCHING
from salur_matching.engine import Engine
from salur_opportunities.bootstrap import SPEC as OPPORTUNITIES
from salur_partnerships.bootstrap import SPEC as PARTNERSHIPS
from salur_planning.bootstrap import SPEC as PLANNING

pytestmark = pytest.mark.unit


def skipped(consumer: ConsumerSpec) -> list[type[IntegrationEvent]]:
    return [
        event
        for event in CATALOGUE.values()
        if event.topic() in consumer.topics and event not in consumer.handles
    ]


@pytest.mark.parametrize("spec", [PLANNING, OPPORTUNITIES, PARTNERSHIPS], ids=lambda s: s.name)
def test_an_event_a_consumer_skips_is_one_its_policy_ignores(spec: ServiceSpec) -> None:
    (consumer,) = spec.consumers
    app: ServiceApplication = spec.application(memory_env())
    effects = consumer.effects(app)
    assert isinstance(effects, EventSourcedEffects)

    ignored = skipped(consumer)

    assert ignored, "every one of these consumers leaves some events of its topics aside"
    for event in ignored:
        envelope = new_envelope(example_event(event), aggregate_version=1)
        assert effects.policy(envelope) == [], f"{spec.name} acts on {event.__name__}"


def test_an_event_matching_skips_changes_nothing_it_knows() -> None:
    (consumer,) = MATCHING.consumers
    engine = Engine()

    for event in skipped(consumer):
        change = engine.apply(example_event(event), 1)
        assert (change.facts, change.transitions) == ([], []), event.__name__


def test_the_topics_read_are_those_of_the_events_handled() -> None:
    assert PLANNING.consumers[0].topics == (
        "salur.registry.events.v1",
        "salur.partnerships.events.v1",
        "salur.matching.events.v1",
    )
    assert OPPORTUNITIES.consumers[0].topics == (
        "salur.registry.events.v1",
        "salur.partnerships.events.v1",
    )
