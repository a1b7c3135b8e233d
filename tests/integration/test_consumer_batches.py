"""A consumer's batch in one transaction, on real Postgres (planning's application and
policy): later messages see what earlier ones changed, each new event keeps its own
message's trace, and a batch that cannot be taken whole is taken message by message with
the usual outcomes (a repeat is a duplicate, a broken rule is dead-lettered)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from salur_contracts.base import IntegrationEvent, example_event
from salur_contracts.cloudevents import encode, new_envelope
from salur_contracts.matching import MatchWithdrawn
from salur_contracts.registry import BkmRegistered, BkmVerified
from salur_kit.consumer import TrackedConsumer
from salur_kit.eventstore import postgres_env
from salur_kit.testing.dead_letters import KeptDeadLetters
from salur_planning.application import PlanningApplication
from salur_planning.bootstrap import CONSUMER
from salur_planning.domain import KnownBkm

pytestmark = pytest.mark.integration

TOPIC = "salur.registry.events.v1"


def trace_of(i: int) -> str:
    return f"00-{i:032x}-{i:016x}-01"


def record(data: IntegrationEvent, version: int, offset: int) -> ConsumerRecord[Any, Any]:
    envelope = new_envelope(data, aggregate_version=version, traceparent=trace_of(offset + 1))
    kafka = encode(envelope)
    return ConsumerRecord(TOPIC, 0, offset, 0, 0, kafka.key, kafka.value, None, 0, 0, kafka.headers)


def registered(bkm_id: uuid.UUID) -> BkmRegistered:
    return example_event(BkmRegistered).model_copy(update={"bkm_id": bkm_id})


def verified(bkm_id: uuid.UUID) -> BkmVerified:
    return example_event(BkmVerified).model_copy(update={"bkm_id": bkm_id})


@pytest.fixture
def app(fresh_database_url: str) -> Iterator[PlanningApplication]:
    application = PlanningApplication(postgres_env(fresh_database_url))
    yield application
    application.close()


@pytest.fixture
def letters() -> KeptDeadLetters:
    return KeptDeadLetters()


@pytest.fixture
def consumer(app: PlanningApplication, letters: KeptDeadLetters) -> TrackedConsumer:
    return TrackedConsumer(
        group="planning",
        topics=[TOPIC],
        effects=CONSUMER.effects(app),
        dead_letters=letters,
        handles=CONSUMER.event_types,
    )


FALLBACK = "batch taken one message at a time"


async def test_a_batch_is_one_transaction_in_which_later_messages_see_earlier_ones(
    app: PlanningApplication, consumer: TrackedConsumer, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    batch = [record(registered(first), 1, 0), record(verified(first), 2, 1)]
    batch.append(record(registered(second), 1, 2))
    before = app.recorder.max_notification_id() or 0

    with caplog.at_level(logging.INFO, logger="salur_kit.consumer"):
        await consumer.process_batch(batch)

    assert FALLBACK not in caplog.text
    assert consumer.stats.applied == 3
    assert app.load(KnownBkm, first, "BKM").status == "verified"
    assert app.load(KnownBkm, second, "BKM").status == "registered"
    stored = app.recorder.select_notifications(before, 10, inclusive_of_start=False)
    # One transaction: the events' notification ids are consecutive, and each event
    # carries the trace of the message that caused it.
    traces = [app.mapper_with_trace.to_domain_event_with_trace(n)[1] for n in stored]
    assert [n.id for n in stored] == list(range(stored[0].id, stored[0].id + len(stored)))
    assert sorted(t.split("-")[1] for t in traces if t) == sorted(
        trace_of(i).split("-")[1] for i in (1, 2, 3)
    )


async def test_a_batch_with_a_repeat_is_taken_one_by_one_and_the_repeat_changes_nothing(
    app: PlanningApplication, consumer: TrackedConsumer, caplog: pytest.LogCaptureFixture
) -> None:
    bkm = uuid.uuid4()
    await consumer.process_batch([record(registered(bkm), 1, 0), record(verified(bkm), 2, 1)])
    stored = app.recorder.max_notification_id()
    fresh = uuid.uuid4()

    # Redelivered after a crash, with a new message behind it.
    with caplog.at_level(logging.INFO, logger="salur_kit.consumer"):
        await consumer.process_batch(
            [
                record(registered(bkm), 1, 0),
                record(verified(bkm), 2, 1),
                record(registered(fresh), 1, 2),
            ]
        )

    assert FALLBACK in caplog.text
    assert (consumer.stats.applied, consumer.stats.duplicates) == (3, 2)
    assert app.load(KnownBkm, fresh, "BKM").status == "registered"
    assert app.recorder.max_notification_id() == (stored or 0) + 1


async def test_a_message_breaking_a_rule_is_dead_lettered_and_the_rest_of_its_batch_applied(
    app: PlanningApplication, consumer: TrackedConsumer, letters: KeptDeadLetters
) -> None:
    bkm = uuid.uuid4()
    # Withdrawing a match of a plan planning has never seen breaks a rule.
    batch = [record(registered(bkm), 1, 0), record(example_event(MatchWithdrawn), 1, 1)]

    await consumer.process_batch(batch)

    assert (consumer.stats.applied, consumer.stats.dead_lettered) == (1, 1)
    assert len(letters.reasons) == 1
    assert app.load(KnownBkm, bkm, "BKM").status == "registered"
