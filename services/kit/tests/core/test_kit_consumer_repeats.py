"""A tracked consumer tells a repeat from new work by the tracking row, without asking the
store before every first attempt (no servers needed: the effects keep their rows in memory,
and refuse a second row as a recorder does)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from salur_contracts.cloudevents import Envelope, encode, new_envelope
from salur_contracts.registry import BkmRegistered
from salur_kit.consumer import Outcome, TrackedConsumer
from salur_kit.errors import ConflictError
from salur_kit.testing.dead_letters import KeptDeadLetters

pytestmark = pytest.mark.unit


class Registrations:
    """Effects like a service's: a BKM registered twice breaks a rule of the aggregate,
    checked before the tracking row is written."""

    def __init__(self) -> None:
        self.registered: list[str] = []
        self.tracked: set[tuple[str, int]] = set()
        self.checks = 0

    def is_processed(self, tracking: Tracking) -> bool:
        self.checks += 1
        return (tracking.application_name, tracking.notification_id) in self.tracked

    def apply(self, envelope: Envelope, tracking: Tracking) -> None:
        if envelope.subject in self.registered:
            raise ConflictError(f"BKM {envelope.subject} is already known", rule="unique-id")
        position = (tracking.application_name, tracking.notification_id)
        if position in self.tracked:
            raise IntegrityError(f"{position} is already tracked")
        self.tracked.add(position)
        self.registered.append(envelope.subject)


def registered(bkm_id: uuid.UUID) -> BkmRegistered:
    return BkmRegistered(
        bkm_id=bkm_id,
        name="BKM Mekar Sari",
        region_code="32.73.01.1001",
        address="Jl. Cibeunying 4",
        legal_deed_number="AHU-0001",
        founded_on=dt.date(2008, 3, 12),
        status="registered",
    )


async def deliver(consumer: TrackedConsumer, data: BkmRegistered, offset: int) -> Outcome:
    record = encode(new_envelope(data, aggregate_version=1))
    return await consumer.process(
        key=record.key,
        value=record.value,
        headers=record.headers,
        topic="salur.registry.events.v1",
        partition=0,
        offset=offset,
    )


@pytest.fixture
def effects() -> Registrations:
    return Registrations()


@pytest.fixture
def letters() -> KeptDeadLetters:
    return KeptDeadLetters()


@pytest.fixture
def consumer(effects: Registrations, letters: KeptDeadLetters) -> TrackedConsumer:
    return TrackedConsumer(
        group="planning", topics=["salur.registry.events.v1"], effects=effects, dead_letters=letters
    )


async def test_new_work_is_applied_without_asking_first_whether_it_was_processed(
    consumer: TrackedConsumer, effects: Registrations
) -> None:
    bkm_id = uuid.uuid4()

    assert await deliver(consumer, registered(bkm_id), offset=0) is Outcome.APPLIED

    assert effects.registered == [str(bkm_id)]
    assert effects.checks == 0


async def test_a_repeat_that_now_breaks_a_rule_is_a_duplicate_not_a_dead_letter(
    consumer: TrackedConsumer, effects: Registrations, letters: KeptDeadLetters
) -> None:
    bkm_id = uuid.uuid4()
    await deliver(consumer, registered(bkm_id), offset=0)

    assert await deliver(consumer, registered(bkm_id), offset=1) is Outcome.DUPLICATE

    assert effects.registered == [str(bkm_id)]
    assert letters.sent == []
    assert (consumer.stats.applied, consumer.stats.duplicates) == (1, 1)


async def test_a_repeat_stopped_by_its_tracking_row_is_a_duplicate(
    consumer: TrackedConsumer, effects: Registrations, letters: KeptDeadLetters
) -> None:
    bkm_id = uuid.uuid4()
    await deliver(consumer, registered(bkm_id), offset=0)
    effects.registered.clear()  # the rule no longer catches it; the tracking row must

    assert await deliver(consumer, registered(bkm_id), offset=1) is Outcome.DUPLICATE

    assert effects.registered == []
    assert letters.sent == []


async def test_new_work_that_breaks_a_rule_is_dead_lettered(
    consumer: TrackedConsumer, effects: Registrations, letters: KeptDeadLetters
) -> None:
    bkm_id = uuid.uuid4()
    effects.registered.append(str(bkm_id))  # known already, but never through this message

    assert await deliver(consumer, registered(bkm_id), offset=0) is Outcome.DEAD_LETTERED

    assert letters.topics == ["salur.dlq.planning"]
