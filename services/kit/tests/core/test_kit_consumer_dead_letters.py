"""Where a tracked consumer sends what it cannot apply (no servers needed)."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import Tracking
from salur_contracts.cloudevents import Envelope
from salur_kit.consumer import Outcome, TrackedConsumer, dead_letter_topic
from salur_kit.testing.dead_letters import KeptDeadLetters

pytestmark = pytest.mark.unit


class _NoEffects:
    def is_processed(self, tracking: Tracking) -> bool:
        return False

    def apply(self, envelope: Envelope, tracking: Tracking) -> None:
        raise AssertionError("a poison message must not reach the effects")


async def _poison(consumer: TrackedConsumer) -> Outcome:
    return await consumer.process(
        key=b"k", value=b"{not json", headers=[], topic="t", partition=0, offset=7
    )


async def test_dead_letters_go_to_the_groups_topic_by_default() -> None:
    letters = KeptDeadLetters()
    consumer = TrackedConsumer(
        group="planning", topics=["t"], effects=_NoEffects(), dead_letters=letters
    )
    assert await _poison(consumer) is Outcome.DEAD_LETTERED
    assert [topic for topic, _, _ in letters.sent] == [dead_letter_topic("planning")]
    assert letters.sent[0][2]["x-dlq-group"] == b"planning"


async def test_a_prefixed_group_still_dead_letters_to_the_services_topic() -> None:
    letters = KeptDeadLetters()
    consumer = TrackedConsumer(
        group="e2e-1234-planning",
        topics=["t"],
        effects=_NoEffects(),
        dead_letters=letters,
        dlq_topic=dead_letter_topic("planning"),
    )
    assert await _poison(consumer) is Outcome.DEAD_LETTERED
    assert letters.sent[0][0] == "salur.dlq.planning"
    assert letters.sent[0][1] == b"{not json", "the original bytes are kept"
    assert letters.sent[0][2]["x-dlq-group"] == b"e2e-1234-planning"
