"""Planning on the real broker: registry's events arrive through the tracked consumer and
gate planning; an activity opened for channelling leaves on planning's topic as a valid
CloudEvent that a plain Kafka client reads; partnerships' events move its funding and
matching's events its matches, each with one effect however often it is delivered.

The service runs as `build_api` builds it, with its consumer in a group of its own (so a
concurrent run elsewhere never takes its partitions), started at the topics' current end
(so it does not replay every event other tests ever published).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from fastapi import FastAPI
from salur_contracts import matching, partnerships, planning, registry
from salur_contracts.base import IntegrationEvent
from salur_contracts.cloudevents import decode, encode, new_envelope
from salur_kit.auth import Role
from salur_kit.devtokens import DevIssuer, ensure_issuer
from salur_kit.runtime import build_api
from salur_kit.settings import ServiceSettings
from salur_kit.testing.kafka import end_offsets, start_group_at_end
from salur_planning.application import PlanningApplication
from salur_planning.bootstrap import CONSUMER, SPEC
from salur_planning.domain import KnownBkm

pytestmark = pytest.mark.integration

REGION = "32.73.01.1001"
TOPICS = [
    registry.BkmRegistered.topic(),
    partnerships.AgreementSigned.topic(),
    matching.MatchProposed.topic(),
]
PLANNING_TOPIC = planning.PlanDrafted.topic()
ACTIVITY: dict[str, Any] = {
    "title": "Normalisasi saluran RW 05",
    "aspect": "environment",
    "kind": "drainage",
    "location": {"region_code": REGION, "rw": "005"},
    "beneficiaries": {"poor_households": 120, "women": 260, "total_people": 540},
    "estimated_cost": "150000000.00",
    "swadaya": {"percent": "10"},
    "planned_year": 2027,
    "priority": 1,
}


@pytest.fixture
async def service(
    fresh_database_url: str, kafka_bootstrap_servers: str, tmp_path: Path
) -> AsyncIterator[tuple[FastAPI, DevIssuer]]:
    issuer = ensure_issuer(tmp_path / "issuer")
    group = f"planning-test-{uuid.uuid4().hex[:12]}"
    await start_group_at_end(kafka_bootstrap_servers, group, TOPICS)
    spec = dataclasses.replace(SPEC, consumers=(dataclasses.replace(CONSUMER, group=group),))
    settings = ServiceSettings(
        SALUR_SERVICE="planning",
        SALUR_ENV="development",
        DATABASE_URL=fresh_database_url,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap_servers,
        SALUR_JWKS_PATH=str(issuer.jwks_path),
        SALUR_JWT_ISSUER="https://dev.salur.local/issuer",
    )
    api = build_api(spec, settings)
    async with api.router.lifespan_context(api):
        yield api, issuer


def bearer(issuer: DevIssuer, role: Role, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(role=role, subject='test', **claims)}"}


async def publish(bootstrap: str, data: IntegrationEvent, version: int, times: int = 1) -> None:
    """Send one CloudEvent `times` times, as an at-least-once producer may."""
    record = encode(new_envelope(data, aggregate_version=version))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for _ in range(times):
            await producer.send_and_wait(
                data.topic(), value=record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


async def eventually(check: Callable[[], Awaitable[bool] | bool], seconds: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        outcome = check()
        if outcome if isinstance(outcome, bool) else await outcome:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"not true within {seconds}s")


async def read_planning_events(
    bootstrap: str, since: dict[TopicPartition, int], plan_id: str, wanted: str
) -> list[Any]:
    """Records of one plan on planning's topic, read by a plain aiokafka consumer."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    found: list[Any] = []
    try:
        consumer.assign(list(since))
        for partition, offset in since.items():
            consumer.seek(partition, offset)
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                found += [r for r in records if r.key == plan_id.encode()]
            if any(dict(r.headers)["ce_type"] == wanted.encode() for r in found):
                break
    finally:
        await consumer.stop()
    return found


async def test_registry_events_gate_planning_and_channelling_is_published(
    service: tuple[FastAPI, DevIssuer], kafka_bootstrap_servers: str
) -> None:
    api, issuer = service
    app: PlanningApplication = api.state.application
    bootstrap = kafka_bootstrap_servers
    bkm_id = uuid.uuid4()
    operator = bearer(issuer, Role.bkm_operator, org=bkm_id)
    facilitator = bearer(issuer, Role.facilitator, region="32.73")
    since = await end_offsets(bootstrap, [PLANNING_TOPIC])
    transport = httpx.ASGITransport(api, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://planning") as http:
        draft = {"bkm_id": str(bkm_id), "start_year": 2026, "end_year": 2028}

        # Before registry speaks, planning does not know the BKM and refuses a plan.
        refused = await http.post("/plans", json=draft, headers=operator)
        assert refused.status_code == 422, refused.text

        # Registry publishes the BKM; the consumer learns it.
        registered = registry.BkmRegistered(
            bkm_id=bkm_id,
            name="BKM Mekar Sari",
            region_code=REGION,
            address="Jl. Cibeunying 4",
            legal_deed_number="AHU-1",
            founded_on=dt.date(2008, 3, 12),
            status="registered",
        )
        await publish(bootstrap, registered, 1)
        await eventually(lambda: bkm_id in app.repository)

        # The operator drafts, fills, submits; a facilitator endorses.
        plan = (await http.post("/plans", json=draft, headers=operator)).json()
        plan_id = plan["plan_id"]
        added = await http.post(f"/plans/{plan_id}/activities", json=ACTIVITY, headers=operator)
        activity_id = added.headers["location"].rsplit("/", 1)[1]
        await http.post(f"/plans/{plan_id}/submission", headers=operator)
        endorsed = await http.post(
            f"/plans/{plan_id}/endorsement",
            json={"meeting_date": "2026-01-10", "attendance": 87, "minutes_sha256": "a" * 64},
            headers=facilitator,
        )
        assert endorsed.status_code == 200, endorsed.text

        # Not verified yet: the activity cannot be opened.
        url = f"/plans/{plan_id}/activities/{activity_id}/channelling"
        body = {"amount_needed": "135000000.00"}
        unverified = await http.post(url, json=body, headers=operator)
        assert unverified.status_code == 422, unverified.text

        # Registry verifies the BKM; now it can.
        verified = registry.BkmVerified(bkm_id=bkm_id, region_code=REGION, verified_by="f")
        await publish(bootstrap, verified, 2)
        await eventually(lambda: app.load(KnownBkm, bkm_id, "BKM").status == "verified")
        opened = await http.post(url, json=body, headers=operator)
        assert opened.status_code == 200, opened.text

        # A partner signs for the whole amount (partnerships' event): the activity is funded.
        signed = partnerships.AgreementSigned(
            agreement_id=uuid.uuid4(),
            proposal_id=uuid.uuid4(),
            plan_id=uuid.UUID(plan_id),
            activity_id=uuid.UUID(activity_id),
            bkm_id=bkm_id,
            partner_id=uuid.uuid4(),
            partner_name="PT Sinar Nusantara",
            opportunity_id=uuid.uuid4(),
            amount=Decimal("135000000.00"),
            currency="IDR",
        )
        await publish(bootstrap, signed, 1)

        async def funded() -> bool:
            shown = (await http.get(f"/plans/{plan_id}", headers=operator)).json()
            status: str = shown["activities"][0]["channelling"]["funding_status"]
            return status == "funded"

        await eventually(funded)

    # A plain Kafka client reads the channelling as a binary-mode CloudEvent.
    wanted = planning.ActivityFundingUpdated.event_type()
    records = await read_planning_events(bootstrap, since, plan_id, wanted)
    by_type = {dict(r.headers)["ce_type"].decode(): r for r in records}
    record = by_type[planning.ActivityChannellingOpened.event_type()]
    headers = dict(record.headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_source"] == b"/salur/planning"
    assert headers["ce_subject"] == plan_id.encode()
    assert headers["content-type"] == b"application/json"
    envelope = decode(record.key, record.value, record.headers)
    data = envelope.data
    assert isinstance(data, planning.ActivityChannellingOpened)
    assert (str(data.activity_id), data.amount_needed, data.aspect, data.region_code) == (
        activity_id,
        Decimal("135000000.00"),
        "environment",
        REGION,
    )
    funding = decode(by_type[wanted].key, by_type[wanted].value, by_type[wanted].headers).data
    assert isinstance(funding, planning.ActivityFundingUpdated)
    assert (funding.funding_status, funding.partner_name) == ("funded", "PT Sinar Nusantara")
    # Every change of the plan went out, in order.
    types = [dict(r.headers)["ce_type"].decode().split(".")[2] for r in records]
    assert types == [
        "PlanDrafted",
        "PlanActivityAdded",
        "PlanSubmitted",
        "PlanEndorsed",
        "ActivityChannellingOpened",
        "ActivityFundingUpdated",
    ]


async def opened_activity(
    http: httpx.AsyncClient, app: PlanningApplication, bootstrap: str, issuer: DevIssuer
) -> tuple[uuid.UUID, str, str]:
    """A verified BKM (learned from registry's events) with an activity open for channelling."""
    bkm_id = uuid.uuid4()
    operator = bearer(issuer, Role.bkm_operator, org=bkm_id)
    await publish(
        bootstrap, registry.BkmVerified(bkm_id=bkm_id, region_code=REGION, verified_by="f"), 1
    )
    await eventually(lambda: bkm_id in app.repository)
    draft = {"bkm_id": str(bkm_id), "start_year": 2026, "end_year": 2028}
    plan_id = (await http.post("/plans", json=draft, headers=operator)).json()["plan_id"]
    added = await http.post(f"/plans/{plan_id}/activities", json=ACTIVITY, headers=operator)
    activity_id = added.headers["location"].rsplit("/", 1)[1]
    await http.post(f"/plans/{plan_id}/submission", headers=operator)
    endorsement = {"meeting_date": "2026-01-10", "attendance": 87, "minutes_sha256": "a" * 64}
    facilitator = bearer(issuer, Role.facilitator, region="32.73")
    await http.post(f"/plans/{plan_id}/endorsement", json=endorsement, headers=facilitator)
    url = f"/plans/{plan_id}/activities/{activity_id}/channelling"
    opened = await http.post(url, json={"amount_needed": "135000000.00"}, headers=operator)
    assert opened.status_code == 200, opened.text
    return bkm_id, plan_id, activity_id


async def test_matching_events_delivered_twice_make_an_activity_matched_once(
    service: tuple[FastAPI, DevIssuer], kafka_bootstrap_servers: str
) -> None:
    api, issuer = service
    app: PlanningApplication = api.state.application
    bootstrap = kafka_bootstrap_servers
    transport = httpx.ASGITransport(api, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://planning") as http:
        bkm_id, plan_id, activity_id = await opened_activity(http, app, bootstrap, issuer)
        since = await end_offsets(bootstrap, [PLANNING_TOPIC])
        version = app.get_plan(uuid.UUID(plan_id)).version
        auditor = bearer(issuer, Role.auditor)

        async def status() -> str:
            shown = (await http.get(f"/plans/{plan_id}", headers=auditor)).json()
            return str(shown["activities"][0]["channelling"]["funding_status"])

        async def listed_as(funding_status: str) -> bool:
            query = f"/activities/seeking-funding?region=32.73&status={funding_status}&limit=500"
            items = (await http.get(query, headers=auditor)).json()["items"]
            return any(item["activity_id"] == activity_id for item in items)

        # Matching proposes an opportunity; the CloudEvent arrives twice.
        opportunity_id = uuid.uuid4()
        common = {
            "match_id": matching.match_id(uuid.UUID(activity_id), opportunity_id),
            "activity_id": uuid.UUID(activity_id),
            "plan_id": uuid.UUID(plan_id),
            "bkm_id": bkm_id,
            "opportunity_id": opportunity_id,
            "partner_id": uuid.uuid4(),
        }
        proposal = matching.MatchProposed(
            **common,
            aspect="environment",
            region_code=REGION,
            amount_needed=Decimal("135000000.00"),
            currency="IDR",
            score=7350,
            rules_passed=["aspect_accepted", "kind_accepted", "region_eligible"],
            reasons=[matching.ScoreReason(criterion="fit", points=7350, explanation="A good fit.")],
        )
        await publish(bootstrap, proposal, 1, times=2)
        await eventually(lambda: listed_as("matched"))
        assert await status() == "matched"

        # Matching withdraws it (also twice): back to seeking funding.
        withdrawal = matching.MatchWithdrawn(
            **common, withdrawn_because="opportunity_closed", explanation="It closed."
        )
        await publish(bootstrap, withdrawal, 2, times=2)
        await eventually(lambda: listed_as("seeking_funding"))
        assert await status() == "seeking_funding"

    # Two facts, each delivered twice: two new plan events, and both left as CloudEvents.
    plan = app.get_plan(uuid.UUID(plan_id))
    assert plan.version == version + 2
    assert plan.channelling[uuid.UUID(activity_id)].matches == {}
    wanted = planning.ActivityMatchesUpdated.event_type().encode()
    updates: list[Any] = []
    for _ in range(100):
        records = await read_planning_events(bootstrap, since, plan_id, wanted.decode())
        updates = [r for r in records if dict(r.headers)["ce_type"] == wanted]
        if len(updates) == 2:
            break
        await asyncio.sleep(0.1)
    events = [decode(r.key, r.value, r.headers).data for r in updates]
    assert [
        (e.cause, e.funding_status, e.open_matches)
        for e in events
        if isinstance(e, planning.ActivityMatchesUpdated)
    ] == [("match_proposed", "matched", 1), ("match_withdrawn", "seeking_funding", 0)]
