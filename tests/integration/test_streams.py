"""The kit's Kafka plumbing on the real broker: relay wake-up and order, tracked consumer
outcomes, dead-lettering, and that a poison message never blocks its partition."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, Tracking
from salur_contracts.cloudevents import Envelope, encode, new_envelope
from salur_contracts.registry import BkmRegistered, BkmSuspended
from salur_kit.auth import Principal, Role
from salur_kit.consumer import (
    BrokerDeadLetters,
    EventSourcedEffects,
    TrackedConsumer,
    dead_letter_topic,
    subscribe,
)
from salur_kit.errors import RuleViolationError
from salur_kit.eventstore import postgres_env
from salur_kit.kafka import new_broker, new_producer
from salur_kit.relay import OutboxRelay
from salur_registry.application import RegistryApplication
from salur_registry.integration import to_integration

pytestmark = pytest.mark.integration

FACILITATOR = Principal("fac", Role.facilitator, None, "32.73")


async def collect(bootstrap: str, topic: str, count: int, seconds: float = 15.0) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + seconds
        while len(records) < count and asyncio.get_running_loop().time() < deadline:
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(messages)
    finally:
        await consumer.stop()
    return records


def register_bkm(app: RegistryApplication) -> uuid.UUID:
    return app.register_bkm(
        FACILITATOR,
        bkm_id=None,
        name="BKM",
        region_code="32.73.01.1001",
        address="Jl.",
        legal_deed_number="AHU",
        founded_on=dt.date(2010, 1, 1),
    ).id


@pytest.fixture
async def relay_setup(
    fresh_database_url: str, kafka_bootstrap_servers: str, unique_topic: str
) -> AsyncIterator[tuple[RegistryApplication, OutboxRelay]]:
    app = RegistryApplication(postgres_env(fresh_database_url))
    producer = new_producer(kafka_bootstrap_servers, client_id="test-relay")
    await producer.start()
    relay = OutboxRelay(
        app=app,
        database_url=fresh_database_url,
        sender=producer,
        to_integration=to_integration,
        topic_for=lambda _: unique_topic,
    )
    yield app, relay
    await producer.stop()
    app.close()


async def test_the_relay_is_woken_by_a_stored_event_without_polling(
    relay_setup: tuple[RegistryApplication, OutboxRelay],
    kafka_bootstrap_servers: str,
    unique_topic: str,
) -> None:
    app, relay = relay_setup
    relay.follower.safety_poll_seconds = 60.0  # only NOTIFY can wake it within the test
    stopping = asyncio.Event()
    task = asyncio.create_task(relay.run(stopping))
    await asyncio.sleep(1.0)  # the relay is idle, listening
    bkm_id = await asyncio.to_thread(register_bkm, app)
    records = await collect(kafka_bootstrap_servers, unique_topic, 1, seconds=5.0)
    stopping.set()
    await task
    assert [r.key for r in records] == [str(bkm_id).encode()]
    assert await relay.lag() == 0


async def test_the_relay_keeps_each_aggregates_events_in_order(
    relay_setup: tuple[RegistryApplication, OutboxRelay],
    kafka_bootstrap_servers: str,
    unique_topic: str,
) -> None:
    app, relay = relay_setup

    def story() -> uuid.UUID:
        bkm_id = register_bkm(app)
        operator = Principal("op", Role.bkm_operator, bkm_id, None)
        for unit in ("UPK", "UPL", "UPS"):
            app.add_unit(operator, bkm_id, unit, "Kepala", None)
            app.remove_unit(operator, bkm_id, unit, None)
        return bkm_id

    ids = [await asyncio.to_thread(story) for _ in range(5)]
    await relay.drain()
    records = await collect(kafka_bootstrap_servers, unique_topic, 35)
    for bkm_id in ids:
        versions = [
            int(dict(r.headers)["ce_aggregateversion"])
            for r in records
            if r.key == str(bkm_id).encode()
        ]
        assert versions == list(range(1, 8))


class Seen(Aggregate):
    @event("Seen")
    def __init__(self, id: uuid.UUID) -> None:
        self.times = 1


class Recorder:
    """Effects that record what they were given; some events misbehave on purpose."""

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.tracked: set[tuple[str, int]] = set()
        self.flaky_failures = 0

    def is_processed(self, tracking: Tracking) -> bool:
        return (tracking.application_name, tracking.notification_id) in self.tracked

    def apply(self, envelope: Envelope, tracking: Tracking) -> None:
        data = envelope.data
        if isinstance(data, BkmSuspended) and data.reason == "rule":
            raise RuleViolationError("this event breaks a rule")
        if isinstance(data, BkmSuspended) and data.reason == "flaky" and self.flaky_failures < 2:
            self.flaky_failures += 1
            raise ConnectionError("database briefly unavailable")
        position = (tracking.application_name, tracking.notification_id)
        if position in self.tracked:
            # As a recorder does: the tracking row of a repeat is already there.
            raise IntegrityError(f"{position} is already tracked")
        self.tracked.add(position)
        self.applied.append(envelope.subject)


def a_record(data: Any, version: int) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    record = encode(new_envelope(data, aggregate_version=version))
    return record.key, record.value, record.headers


async def test_the_tracked_consumer_applies_once_dead_letters_poison_and_moves_on(
    kafka_bootstrap_servers: str, unique_topic: str
) -> None:
    group = f"test-{uuid.uuid4().hex[:8]}"
    dlq = dead_letter_topic(group)
    bkm = uuid.uuid4()
    registered = BkmRegistered(
        bkm_id=bkm,
        name="BKM",
        region_code="32.73.01.1001",
        address="Jl.",
        legal_deed_number="AHU",
        founded_on=dt.date(2010, 1, 1),
        status="registered",
    )

    def suspended(reason: str) -> BkmSuspended:
        return BkmSuspended(
            bkm_id=bkm, region_code="32.73.01.1001", reason=reason, suspended_by="fac"
        )

    key, value, headers = a_record(registered, 1)
    messages: Sequence[tuple[bytes, bytes, list[tuple[str, bytes]]]] = [
        (key, value, headers),
        (key, value, headers),  # a repeat
        (key, b"{not json", headers),  # poison: malformed
        (key, value, [(k, b"salur.nope.Unknown.v1" if k == "ce_type" else v) for k, v in headers]),
        a_record(suspended("rule"), 2),  # poison: breaks a rule
        a_record(suspended("flaky"), 3),  # fails twice, then works
        a_record(suspended("fine"), 4),  # behind the poison, still processed
    ]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(dlq, 1, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    for k, v, h in messages:
        await producer.send_and_wait(unique_topic, value=v, key=k, headers=h)
    await producer.stop()

    effects = Recorder()
    broker = new_broker(kafka_bootstrap_servers, client_id="test-consumer")
    consumer = TrackedConsumer(
        group=group,
        topics=[unique_topic],
        effects=effects,
        dead_letters=BrokerDeadLetters(broker),
        first_backoff_seconds=0.01,
    )
    subscribe(broker, consumer)
    await broker.start()
    try:
        for _ in range(200):
            if consumer.stats.processed >= 7:
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()

    assert effects.applied == [str(bkm)] * 3
    assert consumer.stats.applied == 3
    assert consumer.stats.duplicates == 1
    assert consumer.stats.dead_lettered == 3
    assert effects.flaky_failures == 2
    dead = await collect(kafka_bootstrap_servers, dlq, 3)
    reasons = sorted(dict(r.headers)["x-dlq-error-type"].decode() for r in dead)
    assert reasons == ["MalformedEventError", "RuleViolationError", "UnknownEventTypeError"]
    first = dict(dead[0].headers)
    assert first["x-dlq-original-topic"].decode() == unique_topic
    assert first["x-dlq-group"].decode() == group


async def test_event_sourced_effects_are_saved_with_their_tracking(
    fresh_database_url: str,
) -> None:
    app = RegistryApplication(postgres_env(fresh_database_url))

    def policy(envelope: Envelope) -> list[Aggregate]:
        return [Seen(id=uuid.uuid4())]  # a fresh aggregate: only tracking can refuse it

    effects = EventSourcedEffects(app, policy)
    envelope = new_envelope(
        BkmSuspended(
            bkm_id=uuid.uuid4(), region_code="32.73.01.1001", reason="x", suspended_by="f"
        ),
        aggregate_version=7,
    )
    tracking = Tracking(
        application_name=f"g:{envelope.source}:{envelope.subject}", notification_id=7
    )
    assert not effects.is_processed(tracking)
    effects.apply(envelope, tracking)
    assert effects.is_processed(tracking)
    with pytest.raises(IntegrityError):
        effects.apply(envelope, tracking)
    app.close()
