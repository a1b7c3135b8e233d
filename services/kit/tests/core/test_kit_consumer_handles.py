"""A tracked consumer skips, from the `ce_type` header alone, the catalogued events it has
no effect for; and it commits offsets explicitly, at most once an interval, never past a
record it has not handled (no servers needed)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from eventsourcing.persistence import Tracking
from salur_contracts.base import example_event
from salur_contracts.cloudevents import Envelope, encode, new_envelope
from salur_contracts.registry import BkmRegistered, BkmVerified, PartnerRegistered
from salur_kit.consumer import OffsetCommits, Outcome, TrackedConsumer
from salur_kit.testing.dead_letters import KeptDeadLetters

pytestmark = pytest.mark.unit

TOPIC = "salur.registry.events.v1"


class Effects:
    def __init__(self) -> None:
        self.applied: list[str] = []

    def is_processed(self, tracking: Tracking) -> bool:
        return False

    def apply(self, envelope: Envelope, tracking: Tracking) -> None:
        self.applied.append(envelope.type)


def registered() -> BkmRegistered:
    return BkmRegistered(
        bkm_id=uuid.uuid4(),
        name="BKM Mekar Sari",
        region_code="32.73.01.1001",
        address="Jl. Cibeunying 4",
        legal_deed_number="AHU-0001",
        founded_on=dt.date(2008, 3, 12),
        status="registered",
    )


def partner() -> PartnerRegistered:
    return example_event(PartnerRegistered)


async def deliver(
    consumer: TrackedConsumer, key: bytes, headers: list[tuple[str, bytes]], value: bytes
) -> Outcome:
    return await consumer.process(
        key=key, value=value, headers=headers, topic=TOPIC, partition=0, offset=0
    )


@pytest.fixture
def effects() -> Effects:
    return Effects()


@pytest.fixture
def letters() -> KeptDeadLetters:
    return KeptDeadLetters()


@pytest.fixture
def consumer(effects: Effects, letters: KeptDeadLetters) -> TrackedConsumer:
    return TrackedConsumer(
        group="opportunities",
        topics=[TOPIC],
        effects=effects,
        dead_letters=letters,
        handles={PartnerRegistered.event_type()},
    )


async def test_an_event_it_does_not_handle_is_skipped_unread(
    consumer: TrackedConsumer, effects: Effects, letters: KeptDeadLetters
) -> None:
    record = encode(new_envelope(registered(), aggregate_version=1))

    # The body is never decoded: not even a broken one is noticed.
    outcome = await deliver(consumer, record.key, record.headers, b"{not json")

    assert outcome is Outcome.IGNORED
    assert (effects.applied, letters.reasons) == ([], [])
    assert (consumer.stats.ignored, consumer.stats.processed) == (1, 1)


async def test_an_event_it_handles_is_applied(consumer: TrackedConsumer, effects: Effects) -> None:
    record = encode(new_envelope(partner(), aggregate_version=1))

    assert await deliver(consumer, record.key, record.headers, record.value) is Outcome.APPLIED

    assert effects.applied == [PartnerRegistered.event_type()]


async def test_an_uncatalogued_type_is_still_dead_lettered_not_skipped(
    consumer: TrackedConsumer, effects: Effects, letters: KeptDeadLetters
) -> None:
    record = encode(new_envelope(registered(), aggregate_version=1))
    headers = [
        (k, b"salur.registry.Unheard.v1" if k == "ce_type" else v) for k, v in record.headers
    ]

    assert await deliver(consumer, record.key, headers, record.value) is Outcome.DEAD_LETTERED

    assert letters.reasons == ["UnknownEventTypeError"]


async def test_without_a_list_every_event_reaches_the_effects(
    effects: Effects, letters: KeptDeadLetters
) -> None:
    consumer = TrackedConsumer(group="audit", topics=[TOPIC], effects=effects, dead_letters=letters)
    for data in (registered(), example_event(BkmVerified)):
        record = encode(new_envelope(data, aggregate_version=1))
        assert await deliver(consumer, record.key, record.headers, record.value) is Outcome.APPLIED

    assert len(effects.applied) == 2


# -- offsets -----------------------------------------------------------------------------------


class Committing:
    """The part of AIOKafkaConsumer the commits use: the assignment and explicit commits."""

    def __init__(self, *partitions: int, refuse: bool = False) -> None:
        self.assigned = {TopicPartition(TOPIC, p) for p in partitions}
        self.commits: list[dict[TopicPartition, int]] = []
        self.refuse = refuse

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.refuse:
            raise CommitFailedError("the group rebalanced")
        self.commits.append(dict(offsets))


def records(partition: int, *offsets: int) -> tuple[ConsumerRecord[Any, Any], ...]:
    return tuple(
        ConsumerRecord(TOPIC, partition, o, 0, 0, b"k", b"v", None, 1, 1, []) for o in offsets
    )


async def test_offsets_are_committed_explicitly_and_at_most_once_an_interval() -> None:
    kafka = Committing(0, 1)
    commits = OffsetCommits(interval=0.3)

    await commits.handled(kafka, records(0, 5, 6))
    await asyncio.sleep(0.05)
    assert kafka.commits == [{TopicPartition(TOPIC, 0): 7}]  # the first is not held back

    await commits.handled(kafka, records(0, 7))
    await commits.handled(kafka, records(1, 40))
    await asyncio.sleep(0.1)
    assert len(kafka.commits) == 1  # the next waits for the interval ...

    await asyncio.sleep(0.3)
    # ... and then covers both batches, each partition at the record after its last.
    assert kafka.commits[1] == {TopicPartition(TOPIC, 0): 8, TopicPartition(TOPIC, 1): 41}


async def test_a_partition_no_longer_assigned_is_not_committed() -> None:
    kafka = Committing(1)
    commits = OffsetCommits(interval=0.0)

    await commits.handled(kafka, records(0, 3))
    await commits.handled(kafka, records(1, 9))
    await commits.close()

    assert kafka.commits == [{TopicPartition(TOPIC, 1): 10}]


async def test_a_refused_commit_is_dropped_and_the_next_goes_ahead() -> None:
    kafka = Committing(0, refuse=True)
    commits = OffsetCommits(interval=0.0)

    await commits.handled(kafka, records(0, 1))
    await commits.close()  # refused: logged, not raised
    kafka.refuse = False
    await commits.handled(kafka, records(0, 2))
    await commits.close()

    assert kafka.commits == [{TopicPartition(TOPIC, 0): 3}]
