"""What a follower or consumer may record late, on real Postgres and Kafka: the relay's
position after a batch with nothing to publish, a projection's position after events of
aggregates it does not read, and a consumer group's offsets (committed at most once a
second). Each is recorded soon after, and nothing is lost meanwhile."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from eventsourcing.persistence import Tracking
from salur_contracts.base import example_event
from salur_contracts.cloudevents import Envelope, encode, new_envelope
from salur_contracts.registry import BkmRegistered
from salur_kit import positions
from salur_kit.auth import Principal, Role
from salur_kit.consumer import BrokerDeadLetters, TrackedConsumer, subscribe
from salur_kit.eventstore import postgres_env
from salur_kit.kafka import new_broker, new_producer
from salur_kit.projection import ProjectionRunner
from salur_kit.relay import OutboxRelay
from salur_registry.application import RegistryApplication

pytestmark = pytest.mark.integration


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return await check()


def register_bkm(app: RegistryApplication) -> None:
    app.register_bkm(
        Principal("fac", Role.facilitator, None, "32.73"),
        bkm_id=None,
        name="BKM",
        region_code="32.73.01.1001",
        address="Jl.",
        legal_deed_number="AHU",
        founded_on=dt.date(2010, 1, 1),
    )


@pytest.fixture
async def app(fresh_database_url: str) -> AsyncIterator[RegistryApplication]:
    application = RegistryApplication(postgres_env(fresh_database_url))
    yield application
    application.close()


async def test_the_relays_position_after_nothing_to_publish_is_recorded_within_its_interval(
    app: RegistryApplication, fresh_database_url: str, kafka_bootstrap_servers: str
) -> None:
    producer = new_producer(kafka_bootstrap_servers, client_id="test-lazy-relay")
    await producer.start()
    relay = OutboxRelay(
        app=app, database_url=fresh_database_url, sender=producer, to_integration=lambda _: None
    )
    relay.lazy.interval = 2.0
    await positions.ensure_table(fresh_database_url)
    stopping = asyncio.Event()
    task = asyncio.create_task(relay.run(stopping))
    try:
        await asyncio.to_thread(register_bkm, app)

        async def recorded(position: int) -> bool:
            return await relay.position() == position

        assert await eventually(lambda: recorded(1), 5.0)  # the first is never held back
        await asyncio.to_thread(register_bkm, app)
        await asyncio.sleep(0.5)
        assert await relay.position() == 1  # read, published nothing: kept in memory ...
        assert relay.lazy.unrecorded == 2
        assert await eventually(lambda: recorded(2), 5.0)  # ... and recorded once due
    finally:
        stopping.set()
        await task
        await producer.stop()


class PartnersOnly:
    """A read model of partners: BKM events must never reach it."""

    name = "partners-only"
    ddl: Sequence[str] = ()
    aggregates: Sequence[str] = ("Partner",)

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def apply(self, conn: psycopg.AsyncConnection[Any], event: Any) -> None:
        self.seen.append(type(event).__qualname__)


async def test_a_projection_is_given_only_its_aggregates_events_and_still_moves_past_the_rest(
    app: RegistryApplication, fresh_database_url: str
) -> None:
    for _ in range(3):
        await asyncio.to_thread(register_bkm, app)
    projection = PartnersOnly()
    runner = ProjectionRunner(app=app, database_url=fresh_database_url, projection=projection)
    await positions.ensure_table(fresh_database_url)
    await runner.setup()

    await runner.catch_up()

    assert projection.seen == []
    assert await runner.position() == 3  # recorded at the end of catching up


class Counted:
    def __init__(self) -> None:
        self.applied = 0

    def is_processed(self, tracking: Tracking) -> bool:
        return False

    def apply(self, envelope: Envelope, tracking: Tracking) -> None:
        self.applied += 1


async def test_a_groups_offsets_reach_the_end_soon_after_its_records_are_handled(
    kafka_bootstrap_servers: str, unique_topic: str
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    for _ in range(5):
        record = encode(new_envelope(example_event(BkmRegistered), aggregate_version=1))
        await producer.send_and_wait(
            unique_topic, value=record.value, key=record.key, headers=record.headers
        )
    await producer.stop()
    group = f"test-{uuid.uuid4().hex[:8]}"
    effects = Counted()
    broker = new_broker(kafka_bootstrap_servers, client_id="test-commits")
    consumer = TrackedConsumer(
        group=group, topics=[unique_topic], effects=effects, dead_letters=BrokerDeadLetters(broker)
    )
    subscribe(broker, consumer)
    reader = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap_servers, group_id=group)
    await reader.start()
    await broker.start()
    try:
        assert await eventually(lambda: _done(consumer), 15.0)
        await reader.topics()  # loads the metadata
        numbers = reader.partitions_for_topic(unique_topic) or set()
        partitions = [TopicPartition(unique_topic, p) for p in numbers]
        ends = await reader.end_offsets(partitions)

        async def committed_to_the_end() -> bool:
            return all([((await reader.committed(tp)) or 0) == ends[tp] for tp in partitions])

        assert await eventually(committed_to_the_end, 5.0)
        assert effects.applied == 5
    finally:
        await broker.stop()
        await reader.stop()


async def _done(consumer: TrackedConsumer) -> bool:
    return consumer.stats.processed >= 5
