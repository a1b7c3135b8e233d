"""Rebuild from the topics, from offset zero, into a fresh database: the same facts and the
same matches (versions included) as the live service that consumed the same events one by
one in another order; only what was never published becomes a match event to relay."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from salur_contracts.cloudevents import encode, new_envelope
from salur_kit.eventstore import postgres_env
from salur_kit.kafka import new_producer
from salur_kit.relay import OutboxRelay
from salur_kit.testing.databases import scratch_database
from salur_matching.application import MatchingApplication
from salur_matching.engine import Engine, Proposal
from salur_matching.examples import (
    ActivitySpec,
    Feed,
    OpportunitySpec,
    Versioned,
    consumer_of,
    deliver,
)
from salur_matching.integration import to_integration
from salur_matching.rebuild import Rebuilt, rebuild, write

pytestmark = pytest.mark.integration

REGIONS = ["32.73.01.1001", "32.73.02.1002", "32.74.01.1001"]


def busy_world() -> Feed:
    """BKMs, partners, activities and opportunities, with every kind of change."""
    feed = Feed()
    bkms = [(uuid.uuid4(), region) for region in REGIONS]
    for bkm_id, region in bkms:
        feed.bkm(bkm_id, region)
    partners = [uuid.uuid4(), uuid.uuid4()]
    feed.partner(partners[0], ["32.73"])
    activities = []
    for i in range(12):
        bkm_id, region = bkms[i % 3]
        spec = ActivitySpec(
            bkm_id=bkm_id,
            bkm_region=region,
            region=region,
            kind=["drainage", "clean_water", "roads"][i % 3],
            poor_households=40 + 17 * i,
            priority=1 + i % 4,
            year=2027 + i % 2,
        )
        feed.activity(spec, open_for=Decimal(30 + 10 * i) * 1_000_000)
        activities.append(spec)
    opportunities = [
        OpportunitySpec(partner_id=partners[0]),
        OpportunitySpec(partner_id=partners[1], regions=["32"], kinds=["roads", "drainage"]),
        OpportunitySpec(partner_id=partners[1], regions=["32.74.01"], close_date=_date(2028)),
        OpportunitySpec(partner_id=partners[0], kinds=["clean_water"], swadaya_percent="5"),
    ]
    for o in opportunities:
        feed.publish(o)
    # Facts change: a suspension (and a reinstatement), funding, a withdrawal, a closure,
    # an envelope commitment, a revision.
    feed.suspend(*bkms[1])
    feed.suspend(*bkms[2])
    feed.reinstate(*bkms[2])
    feed.funding(activities[0], "funded", needed=Decimal(30_000_000), committed=Decimal(30_000_000))
    feed.cancel(activities[3])
    feed.close(opportunities[3])
    feed.commit(opportunities[1], Decimal(900_000_000), Decimal(900_000_000))
    opportunities[0].kinds = ["drainage", "roads"]
    feed.revise_terms(opportunities[0])
    return feed


def _date(year: int) -> dt.date:
    return dt.date(year, 6, 30)


def subject_major(events: list[Versioned]) -> list[Versioned]:
    """Each aggregate's events together, aggregates in reverse order of first appearance: as
    far from the live order as per-key order allows."""
    groups: dict[str, list[Versioned]] = defaultdict(list)
    for item in events:
        groups[item[0].subject].append(item)
    return [item for subject in reversed(list(groups)) for item in groups[subject]]


@contextlib.asynccontextmanager
async def another_topic(bootstrap: str) -> AsyncIterator[str]:
    """A second throw-away topic (matching's own events), deleted afterwards."""
    name = f"test.matching.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=3, replication_factor=1)])
        yield name
    finally:
        await admin.delete_topics([name])
        await admin.close()


async def publish(bootstrap: str, topic: str, events: list[Versioned]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for event, version in events:
            record = encode(new_envelope(event, aggregate_version=version))
            await producer.send(topic, value=record.value, key=record.key, headers=record.headers)
        await producer.flush()
    finally:
        await producer.stop()


async def test_rebuild_from_zero_equals_the_live_state_and_publishes_nothing_again(
    fresh_database_url: str,
    postgres_admin_url: str,
    kafka_bootstrap_servers: str,
    unique_topic: str,
) -> None:
    feed = busy_world()

    # Live: the service consumed every event one by one, in the order they were made ...
    live = MatchingApplication(postgres_env(fresh_database_url))
    await deliver(consumer_of(live), feed.events)
    assert live.engine.standing()
    assert any(v % 2 == 0 for v in live.engine.versions.values()), "some were withdrawn"
    async with another_topic(kafka_bootstrap_servers) as own_topic:
        # ... and its relay published its match events (here to a topic of the test's own).
        producer = new_producer(kafka_bootstrap_servers, client_id="matching-rebuild-test")
        await producer.start()
        try:
            relay = OutboxRelay(
                app=live,
                database_url=fresh_database_url,
                sender=producer,
                to_integration=to_integration,
                topic_for=lambda _: own_topic,
            )
            await relay.drain()
        finally:
            await producer.stop()

        # The same input events on the input topic, in another interleaving.
        await publish(kafka_bootstrap_servers, unique_topic, subject_major(feed.events))

        # Rebuild from offset zero into a fresh database.
        rebuilt = await rebuild(kafka_bootstrap_servers, [unique_topic], own_topic=own_topic)
    assert rebuilt.events == len(feed.events) + len(live.engine.versions) + sum(
        v - 1 for v in live.engine.versions.values()
    )
    assert rebuilt.corrections == []
    with scratch_database(postgres_admin_url, prefix="t_matching_rebuilt") as other_url:
        write(other_url, rebuilt)
        again = MatchingApplication(postgres_env(other_url))
        try:
            assert again.engine.versions == live.engine.versions
            assert again.engine.standing() == live.engine.standing()
            assert again.engine.activities == live.engine.activities
            assert again.engine.opportunities == live.engine.opportunities
            assert again.engine.bkms == live.engine.bkms
            for activity_id in live.engine.activities:
                assert again.engine.opportunities_for(activity_id) == (
                    live.engine.opportunities_for(activity_id)
                )
            assert again.recorder.max_notification_id() is None
        finally:
            again.close()
    live.close()


async def test_a_rebuild_with_no_published_history_proposes_every_standing_match(
    postgres_admin_url: str, kafka_bootstrap_servers: str, unique_topic: str
) -> None:
    feed = busy_world()
    await publish(kafka_bootstrap_servers, unique_topic, feed.events)
    rebuilt = await rebuild(kafka_bootstrap_servers, [unique_topic], own_topic=None)
    standing = rebuilt.engine.standing()
    assert standing
    assert all(isinstance(t, Proposal) for t in rebuilt.corrections)
    proposed = {(t.activity.activity_id, t.opportunity.opportunity_id) for t in rebuilt.corrections}
    assert proposed == standing
    with scratch_database(postgres_admin_url, prefix="t_matching_rebuilt") as url:
        write(url, rebuilt)
        app = MatchingApplication(postgres_env(url))
        try:
            assert app.recorder.max_notification_id() == len(standing)
            assert app.engine.standing() == standing
        finally:
            app.close()


async def test_reading_planning_in_a_second_process_gives_the_same_rebuild(
    kafka_bootstrap_servers: str, unique_topic: str
) -> None:
    feed = busy_world()
    planning = [item for item in feed.events if item[0].source_service == "planning"]
    others = [item for item in feed.events if item[0].source_service != "planning"]
    async with another_topic(kafka_bootstrap_servers) as planning_topic:
        await publish(kafka_bootstrap_servers, planning_topic, planning)
        await publish(kafka_bootstrap_servers, unique_topic, others)
        topics = [unique_topic, planning_topic]
        serial = await rebuild(kafka_bootstrap_servers, topics, own_topic=None)
        parallel = await rebuild(
            kafka_bootstrap_servers, topics, own_topic=None, in_parallel=[planning_topic]
        )
    assert parallel.events == serial.events == len(feed.events)
    assert parallel.positions == serial.positions
    assert parallel.engine.activities == serial.engine.activities
    assert parallel.engine.opportunities == serial.engine.opportunities
    assert parallel.engine.versions == serial.engine.versions
    assert parallel.engine.standing()

    def pairs(rebuilt: Rebuilt) -> list[tuple[uuid.UUID, uuid.UUID]]:
        return [(t.activity.activity_id, t.opportunity.opportunity_id) for t in rebuilt.corrections]

    assert pairs(parallel) == pairs(serial)


async def test_a_rebuild_skips_the_records_the_live_consumer_dead_letters(
    kafka_bootstrap_servers: str, unique_topic: str
) -> None:
    feed = busy_world()
    await publish(kafka_bootstrap_servers, unique_topic, feed.events)
    opened = next(e for e in feed.events if type(e[0]).__name__ == "ActivityChannellingOpened")
    good = encode(new_envelope(opened[0], aggregate_version=opened[1] + 1))
    unknown = [(n, b"salur.planning.Nope.v9" if n == "ce_type" else v) for n, v in good.headers]
    as_float = json.dumps({**json.loads(good.value), "amount_needed": 1.5}).encode()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for value, headers in ((b"{not json", good.headers), (good.value, unknown)):
            await producer.send(unique_topic, value=value, key=good.key, headers=headers)
        await producer.send(unique_topic, value=as_float, key=good.key, headers=good.headers)
        await producer.flush()
    finally:
        await producer.stop()

    rebuilt = await rebuild(kafka_bootstrap_servers, [unique_topic], own_topic=None)

    assert (rebuilt.events, rebuilt.skipped) == (len(feed.events), 3)
    expected = Engine()
    for event, version in feed.events:
        expected.apply(event, version, decide=False)
    assert rebuilt.engine.activities == expected.activities
    assert rebuilt.engine.opportunities == expected.opportunities
    assert rebuilt.engine.standing() == expected.eligible_pairs()
