"""Each service's /metrics on real Postgres and Kafka: events stored, relay lag, consumer
outcomes, dead letters and consumer-group lag are the figures the stores really hold."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata
from eventsourcing.persistence import IntegrityError, Tracking
from salur_contracts.base import example_event
from salur_contracts.cloudevents import Envelope, encode, new_envelope
from salur_contracts.registry import BkmRegistered
from salur_kit.devtokens import DevIssuer
from salur_kit.eventstore import ServiceApplication
from salur_kit.lag import kafka_offsets
from salur_kit.metrics import parse
from salur_kit.runtime import ConsumerSpec
from salur_kit.testing.callers import Callers
from salur_kit.testing.services import asgi_client, running_api
from salur_registry.bootstrap import SPEC

pytestmark = pytest.mark.integration

BKM = {
    "name": "BKM Metrik",
    "region_code": "32.73.01.1001",
    "address": "Jl. Dago 2",
    "legal_deed_number": "AHU-77",
    "founded_on": "2010-01-01",
}


class Remembered:
    """Effects of the test consumer: remembers what it applied (tracking in memory)."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, int]] = set()

    def is_processed(self, tracking: Tracking) -> bool:
        return (tracking.application_name, tracking.notification_id) in self.seen

    def apply(self, envelope: Envelope, tracking: Tracking) -> None:
        position = (tracking.application_name, tracking.notification_id)
        if position in self.seen:
            raise IntegrityError(f"{position} is already tracked")  # as a recorder does
        self.seen.add(position)


async def scrape(http: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await http.get("/metrics")
    assert response.status_code == 200
    return {(s.name, frozenset(s.labels.items())): s.value for s in parse(response.text)}


async def eventually(check: Callable[[], Any], within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            if await check():
                return
        except AssertionError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            assert await check()
        await asyncio.sleep(0.2)


@pytest.fixture
async def dead_letter_group(kafka_bootstrap_servers: str) -> AsyncIterator[str]:
    group = f"metrics-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(f"salur.dlq.{group}", 1, 1)])
        yield group
        await admin.delete_topics([f"salur.dlq.{group}"])
    finally:
        await admin.close()


async def test_the_registry_exposes_events_stored_and_relay_lag_as_the_database_holds_them(
    fresh_database_url: str, kafka_bootstrap_servers: str, dev_issuer: DevIssuer, callers: Callers
) -> None:
    async with (
        running_api(
            SPEC,
            database_url=fresh_database_url,
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            jwks_path=dev_issuer.jwks_path,
        ) as api,
        asgi_client(api, "registry") as http,
    ):
        for name in ("BKM Satu", "BKM Dua"):
            response = await http.post(
                "/bkms", json=BKM | {"name": name}, headers=callers.facilitator()
            )
            assert response.status_code == 201, response.text

        async def relayed() -> bool:
            figures = await scrape(http)
            projection = frozenset({("projection", "registry-lists")})
            return (
                figures[("salur_relay_lag_events", frozenset())] == 0
                and figures[("salur_projection_lag_events", projection)] == 0
            )

        await eventually(relayed)
        figures = await scrape(http)
        assert figures[("salur_events_stored_total", frozenset())] == 2
        assert figures[("salur_relay_published_total", frozenset())] == 2
        route = frozenset({("method", "POST"), ("route", "/bkms"), ("status", "201")})
        assert figures[("salur_http_request_duration_seconds_count", route)] == 2
        assert (
            figures[("salur_metrics_collector_up", frozenset({("collector", "event_store")}))] == 1
        )
        # The service runs inside this test process: its memory is this process's VmRSS.
        status = await asyncio.to_thread(Path("/proc/self/status").read_text)
        [vm_rss] = [line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")]
        exposed = figures[("process_resident_memory_bytes", frozenset())]
        assert abs(exposed - int(vm_rss) * 1024) < 32 * 2**20
        assert figures[("process_cpu_seconds_total", frozenset())] > 0

        # As if the relay had not recorded anything yet: both events count as lag.
        with psycopg.connect(fresh_database_url, autocommit=True) as conn:
            conn.execute("UPDATE follower_positions SET position = 0 WHERE name = 'relay'")
        figures = await scrape(http)
        assert figures[("salur_relay_lag_events", frozenset())] == 2


async def test_consumer_lag_is_the_records_after_the_groups_committed_offset(
    kafka_bootstrap_servers: str, unique_topic: str
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    try:
        for index in range(5):
            await producer.send_and_wait(unique_topic, f"r{index}".encode(), partition=0)
        await producer.send_and_wait(unique_topic, b"other", partition=1)
    finally:
        await producer.stop()
    group = f"lag-{uuid.uuid4().hex[:8]}"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(unique_topic, 0)])
        await consumer.commit({TopicPartition(unique_topic, 0): OffsetAndMetadata(2, "")})
    finally:
        await consumer.stop()

    async with kafka_offsets(kafka_bootstrap_servers) as offsets:
        committed_only = await offsets.lags(group)
        with_topic = await offsets.lags(group, [unique_topic])
        groups = await offsets.groups()
    assert [(p.partition, p.committed, p.end, p.lag) for p in committed_only] == [(0, 2, 5, 3)]
    # Partitions never committed on count in full (the consumers start at the earliest).
    assert [(p.partition, p.lag) for p in with_topic] == [(0, 3), (1, 1), (2, 0)]
    assert group in groups


async def test_a_consumers_outcomes_dead_letters_and_lag_are_exposed(
    fresh_database_url: str,
    kafka_bootstrap_servers: str,
    dev_issuer: DevIssuer,
    unique_topic: str,
    dead_letter_group: str,
) -> None:
    def effects(_: ServiceApplication) -> Remembered:
        return Remembered()

    spec = dataclasses.replace(
        SPEC,
        consumers=(
            ConsumerSpec(
                group=dead_letter_group,
                handles=(BkmRegistered,),
                effects=effects,
                topics_instead=[unique_topic],
            ),
        ),
    )
    envelope = new_envelope(example_event(BkmRegistered), aggregate_version=1)
    record = encode(envelope)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    try:
        for _ in range(2):  # a repeat, as after a relay crash
            await producer.send_and_wait(
                unique_topic, record.value, key=record.key, headers=record.headers
            )
        await producer.send_and_wait(unique_topic, b"not a cloudevent", key=b"x")
    finally:
        await producer.stop()

    async with (
        running_api(
            spec,
            database_url=fresh_database_url,
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            jwks_path=dev_issuer.jwks_path,
        ) as api,
        asgi_client(api, "registry") as http,
    ):
        group = dead_letter_group

        async def handled_and_committed() -> bool:
            figures = await scrape(http)
            lag = figures.get(
                (
                    "salur_consumer_lag_messages",
                    frozenset({("group", group), ("topic", unique_topic)}),
                )
            )
            return (
                figures[("salur_dead_lettered_messages_total", frozenset({("group", group)}))] == 1
                and lag == 0
            )

        await eventually(handled_and_committed)
        figures = await scrape(http)
        outcomes = {
            dict(labels)["outcome"]: value
            for (name, labels), value in figures.items()
            if name == "salur_consumer_messages_total"
        }
        assert outcomes == {"applied": 1, "duplicate": 1, "dead_lettered": 1}
        assert (
            figures[("salur_metrics_collector_up", frozenset({("collector", "consumer_lag")}))] == 1
        )
