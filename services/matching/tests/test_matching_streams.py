"""Matching on the real broker, as `build_api` runs it: contract events published to the
real registry, planning and opportunities topics reach the tracked consumer; the match
leaves on matching's topic as a valid CloudEvent a plain Kafka client reads; the HTTP
queries rank and explain it; a closure withdraws it.

The consumer runs in a group of its own, started at the topics' current end, so it neither
takes the partitions of another run nor replays every event other tests ever published.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, TopicPartition
from fastapi import FastAPI
from salur_contracts import matching
from salur_contracts.cloudevents import decode, encode, new_envelope
from salur_kit.devtokens import DevIssuer
from salur_kit.testing.callers import Callers
from salur_kit.testing.kafka import end_offsets, start_group_at_end
from salur_kit.testing.services import asgi_client, running_api
from salur_matching.application import MatchingApplication
from salur_matching.bootstrap import CONSUMER, INPUT_TOPICS, SPEC
from salur_matching.examples import ActivitySpec, Feed, OpportunitySpec

pytestmark = pytest.mark.integration

REGION = "32.73.01.1001"
MATCHING_TOPIC = matching.MatchProposed.topic()


@pytest.fixture
async def service(
    fresh_database_url: str, kafka_bootstrap_servers: str, dev_issuer: DevIssuer
) -> AsyncIterator[FastAPI]:
    group = f"matching-test-{uuid.uuid4().hex[:12]}"
    await start_group_at_end(kafka_bootstrap_servers, group, list(INPUT_TOPICS))
    spec = dataclasses.replace(SPEC, consumers=(dataclasses.replace(CONSUMER, group=group),))
    async with running_api(
        spec,
        database_url=fresh_database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        jwks_path=dev_issuer.jwks_path,
    ) as api:
        yield api


async def publish(bootstrap: str, feed: Feed, start: int = 0) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for event, version in feed.events[start:]:
            record = encode(new_envelope(event, aggregate_version=version))
            await producer.send_and_wait(
                event.topic(), value=record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


async def eventually(
    check: Callable[[], Awaitable[bool]], seconds: float = 60.0, what: list[str] | None = None
) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"not true within {seconds}s; last seen: {(what or ['-'])[-1][:500]}")


async def records_of(
    bootstrap: str, since: dict[TopicPartition, int], key: str, count: int
) -> list[ConsumerRecord[bytes, bytes]]:
    """Records of one match on matching's topic, read by a plain aiokafka consumer."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        consumer.assign(list(since))
        for partition, offset in since.items():
            consumer.seek(partition, offset)
        deadline = asyncio.get_running_loop().time() + 60
        while len(found) < count and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                found += [r for r in records if r.key == key.encode()]
    finally:
        await consumer.stop()
    return found


async def test_contract_events_on_the_real_topics_become_a_match_on_matchings_topic(
    service: FastAPI, kafka_bootstrap_servers: str, callers: Callers
) -> None:
    bootstrap = kafka_bootstrap_servers
    since = await end_offsets(bootstrap, [MATCHING_TOPIC])
    feed = Feed()
    bkm_id, partner_id = uuid.uuid4(), uuid.uuid4()
    app: MatchingApplication = service.state.application

    # Registry publishes the BKM and the partner (first, so the score below is known: the
    # topics are not ordered with one another, and a match is scored when proposed).
    feed.bkm(bkm_id, REGION)
    feed.partner(partner_id, ["32.73"])
    await publish(bootstrap, feed)

    async def registry_known() -> bool:
        return partner_id in app.engine.partners and bkm_id in app.engine.bkms

    await eventually(registry_known)

    # Planning opens an activity; opportunities publishes two opportunities.
    mark = len(feed.events)
    activity = ActivitySpec(bkm_id=bkm_id, bkm_region=REGION)
    feed.activity(activity, open_for=Decimal("100000000.00"))
    fitting = OpportunitySpec(partner_id=partner_id)
    elsewhere = OpportunitySpec(partner_id=partner_id, regions=["31.71"])
    feed.publish(fitting)
    feed.publish(elsewhere)
    await publish(bootstrap, feed, mark)
    match_id = str(matching.match_id(activity.activity_id, fitting.opportunity_id))
    async with asgi_client(service, "matching") as http:
        reader = callers.operator(bkm_id)

        async def matched() -> bool:
            url = f"/activities/{activity.activity_id}/opportunities"
            response = await http.get(url, headers=reader)
            # Both opportunities taken in: the one that does not fit is asked about below.
            known = elsewhere.opportunity_id in app.engine.opportunities
            return known and response.status_code == 200 and len(response.json()) == 1

        await eventually(matched)
        ranked = (
            await http.get(f"/activities/{activity.activity_id}/opportunities", headers=reader)
        ).json()
        assert ranked[0]["match_id"] == match_id
        assert ranked[0]["score"] == 7300
        assert ranked[0]["opportunity"]["remaining"] == "1000000000.00"
        assert ranked[0]["reasons"][0]["criterion"] == "poor_households_per_rupiah"

        # The partner's question, from the other side.
        officer = callers.officer(partner_id)
        partners_view = (
            await http.get(f"/opportunities/{fitting.opportunity_id}/activities", headers=officer)
        ).json()
        assert [m["activity"]["activity_id"] for m in partners_view] == [str(activity.activity_id)]

        # Why the other opportunity is not eligible: the failing rule by name, in words.
        why = (
            await http.get(
                f"/activities/{activity.activity_id}/opportunities/{elsewhere.opportunity_id}",
                headers=reader,
            )
        ).json()
        assert why["eligible"] is False
        assert [r["rule"] for r in why["failed_rules"]] == ["region_eligible"]
        assert "outside the eligible regions (31.71)" in why["failed_rules"][0]["explanation"]

        # Unknown ids and anonymous callers are refused.
        unknown = await http.get(f"/activities/{uuid.uuid4()}/opportunities", headers=reader)
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
        anonymous = await http.get(f"/activities/{activity.activity_id}/opportunities")
        assert anonymous.status_code == 401
        malformed = await http.get("/activities/not-a-uuid/opportunities", headers=reader)
        assert malformed.status_code == 422
        assert "activity_id" in malformed.text
        too_many = await http.get(
            f"/activities/{activity.activity_id}/opportunities?limit=100000", headers=reader
        )
        assert too_many.status_code == 422
        assert "limit" in too_many.text

        # The partner closes the opportunity: the match is withdrawn.
        mark = len(feed.events)
        feed.close(fitting)
        await publish(bootstrap, feed, mark)

        async def withdrawn() -> bool:
            url = f"/activities/{activity.activity_id}/opportunities"
            shown = await http.get(url, headers=reader)
            last.append(shown.text)
            gone: bool = shown.json() == []
            return gone

        last: list[str] = []

        await eventually(withdrawn, what=last)

    # A plain Kafka client reads both match events as binary-mode CloudEvents, in order.
    records = await records_of(bootstrap, since, match_id, 2)
    headers: list[dict[str, Any]] = [dict(r.headers) for r in records]
    assert [h["ce_type"] for h in headers] == [
        b"salur.matching.MatchProposed.v1",
        b"salur.matching.MatchWithdrawn.v1",
    ]
    assert all(h["ce_source"] == b"/salur/matching" for h in headers)
    assert [h["ce_aggregateversion"] for h in headers] == [b"1", b"2"]
    proposed = decode(records[0].key, records[0].value, records[0].headers).data
    assert isinstance(proposed, matching.MatchProposed)
    assert (proposed.activity_id, proposed.opportunity_id, proposed.score) == (
        activity.activity_id,
        fitting.opportunity_id,
        7300,
    )
    assert proposed.amount_needed == Decimal("100000000.00")
    withdrawn_event = decode(records[1].key, records[1].value, records[1].headers).data
    assert isinstance(withdrawn_event, matching.MatchWithdrawn)
    assert withdrawn_event.withdrawn_because == "opportunity_closed"
