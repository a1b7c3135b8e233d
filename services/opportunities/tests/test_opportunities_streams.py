"""Opportunities on the real broker: registry's partner events gate publication, and
partnerships' agreement events move the envelope exactly once even when Kafka delivers
them twice; a signing the envelope cannot take is dead-lettered with its rule, and the
opportunity's events leave on its topic as CloudEvents a plain Kafka client reads.

The service runs as `build_api` builds it, with its consumer in a group of its own (so a
concurrent run elsewhere never takes its partitions), started at the topics' current end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition
from fastapi import FastAPI
from salur_contracts import opportunities, partnerships, registry
from salur_contracts.base import IntegrationEvent
from salur_contracts.cloudevents import KafkaRecord, decode, encode, new_envelope
from salur_kit.auth import Role
from salur_kit.consumer import dead_letter_topic
from salur_kit.devtokens import DevIssuer, ensure_issuer
from salur_kit.runtime import build_api
from salur_kit.settings import ServiceSettings
from salur_kit.testing.kafka import end_offsets, start_group_at_end
from salur_opportunities.application import OpportunitiesApplication
from salur_opportunities.bootstrap import CONSUMER, SPEC
from salur_opportunities.domain import KnownPartner

pytestmark = pytest.mark.integration

TOPICS = [registry.PartnerRegistered.topic(), partnerships.AgreementSigned.topic()]
OPPORTUNITIES_TOPIC = opportunities.OpportunityDrafted.topic()
TERMS: dict[str, Any] = {
    "title": "Program CSR Air Bersih 2027",
    "source_kind": "csr",
    "aspects": ["environment"],
    "activity_kinds": ["clean_water"],
    "eligible_regions": ["32.73"],
    "min_amount": "25000000.00",
    "max_amount": "150000000.00",
    "envelope": "300000000.00",
    "required_swadaya_percent": "10",
    "open_date": "2027-01-01",
    "close_date": "2027-06-30",
}


@pytest.fixture
async def service(
    fresh_database_url: str, kafka_bootstrap_servers: str, tmp_path: Path
) -> AsyncIterator[tuple[FastAPI, DevIssuer, str]]:
    issuer = ensure_issuer(tmp_path / "issuer")
    group = f"opportunities-test-{uuid.uuid4().hex[:12]}"
    dlq = dead_letter_topic(group)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(dlq, 1, 1)])
    await start_group_at_end(kafka_bootstrap_servers, group, TOPICS)
    spec = dataclasses.replace(
        SPEC, consumers=(dataclasses.replace(CONSUMER, group=group),), loops=()
    )
    settings = ServiceSettings(
        SALUR_SERVICE="opportunities",
        SALUR_ENV="development",
        DATABASE_URL=fresh_database_url,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap_servers,
        SALUR_JWKS_PATH=str(issuer.jwks_path),
        SALUR_JWT_ISSUER="https://dev.salur.local/issuer",
    )
    api = build_api(spec, settings)
    try:
        async with api.router.lifespan_context(api):
            yield api, issuer, dlq
    finally:
        await admin.delete_topics([dlq])
        await admin.close()


def bearer(issuer: DevIssuer, role: Role, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(role=role, subject='test', **claims)}"}


Message = tuple[str, KafkaRecord]


def record(data: IntegrationEvent, version: int) -> Message:
    return data.topic(), encode(new_envelope(data, aggregate_version=version))


async def send(bootstrap: str, *messages: Message) -> None:
    """Each message as produced; sending one twice is Kafka delivering it twice."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, r in messages:
            await producer.send_and_wait(topic, value=r.value, key=r.key, headers=r.headers)
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


async def read_keyed(
    bootstrap: str, since: dict[TopicPartition, int], key: str, done: Callable[[list[Any]], bool]
) -> list[Any]:
    """Records with one key, read by a plain aiokafka consumer from `since`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    found: list[Any] = []
    try:
        consumer.assign(list(since))
        for partition, offset in since.items():
            consumer.seek(partition, offset)
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline and not done(found):
            for records in (await consumer.getmany(timeout_ms=200)).values():
                found += [r for r in records if r.key == key.encode()]
    finally:
        await consumer.stop()
    return found


def ce_type(r: Any) -> str:
    return str(dict(r.headers)["ce_type"].decode().split(".")[2])


async def test_partnerships_events_delivered_twice_move_the_envelope_once(
    service: tuple[FastAPI, DevIssuer, str], kafka_bootstrap_servers: str
) -> None:
    api, issuer, dlq = service
    app: OpportunitiesApplication = api.state.application
    bootstrap = kafka_bootstrap_servers
    partner_id = uuid.uuid4()
    officer = bearer(issuer, Role.partner_officer, org=partner_id)
    since = await end_offsets(bootstrap, [OPPORTUNITIES_TOPIC])
    dlq_since = await end_offsets(bootstrap, [dlq])
    consumer = api.state.runtime.consumers[0]
    transport = httpx.ASGITransport(api, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://opportunities") as http:
        # Registry reports the partner and verifies it; the consumer learns both.
        registered = registry.PartnerRegistered(
            partner_id=partner_id,
            kind="company_csr",
            name="PT Sinar Nusantara Tbk",
            contact_name="Budi",
            contact_email="csr@sinar.co.id",
            contact_phone="+62 22 4201234",
            regions_of_operation=["32.73"],
        )
        verified = registry.PartnerVerified(partner_id=partner_id, verified_by="fasilitator")
        await send(bootstrap, record(registered, 1), record(verified, 2))
        await eventually(
            lambda: (
                partner_id in app.repository
                and app.load(KnownPartner, partner_id, "partner").verified
            )
        )

        # The officer drafts and publishes.
        draft = await http.post(
            "/opportunities", json=TERMS | {"partner_id": str(partner_id)}, headers=officer
        )
        oid = draft.json()["opportunity_id"]
        opened = await http.post(f"/opportunities/{oid}/publication", headers=officer)
        assert opened.status_code == 200, opened.text

        # Partnerships signs two agreements; Kafka delivers every record twice.
        first, second, too_much = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

        def signed(agreement_id: uuid.UUID, amount: str) -> Message:
            return record(
                partnerships.AgreementSigned(
                    agreement_id=agreement_id,
                    proposal_id=uuid.uuid4(),
                    plan_id=uuid.uuid4(),
                    activity_id=uuid.uuid4(),
                    bkm_id=uuid.uuid4(),
                    partner_id=partner_id,
                    partner_name="PT Sinar Nusantara Tbk",
                    opportunity_id=uuid.UUID(oid),
                    amount=Decimal(amount),
                    currency="IDR",
                ),
                1,
            )

        parties: dict[str, Any] = {
            "plan_id": uuid.uuid4(),
            "activity_id": uuid.uuid4(),
            "bkm_id": uuid.uuid4(),
            "partner_id": partner_id,
        }
        tranche = record(
            partnerships.TrancheDisbursed(
                agreement_id=first,
                **parties,
                tranche_number=1,
                amount=Decimal("50000000.00"),
                currency="IDR",
                transfer_reference="TRF-0001",
            ),
            2,
        )
        termination = record(
            partnerships.PartnershipTerminated(
                agreement_id=first,
                **parties,
                reason="BKM tidak melanjutkan",
                returned_amount=Decimal("10000000.00"),
                currency="IDR",
            ),
            3,
        )
        one, two = signed(first, "150000000.00"), signed(second, "140000000.00")
        await send(bootstrap, one, one, two, two)

        async def envelope_is(committed: str, remaining: str) -> bool:
            body = (await http.get(f"/opportunities/{oid}/envelope")).json()
            return (body["committed"], body["remaining"]) == (committed, remaining)

        await eventually(lambda: envelope_is("290000000.00", "10000000.00"))

        # A signing beyond what remains is refused and dead-lettered, changing nothing.
        await send(bootstrap, signed(too_much, "25000000.00"))
        dead = await read_keyed(bootstrap, dlq_since, str(too_much), lambda found: bool(found))
        assert len(dead) == 1
        headers = dict(dead[0].headers)
        assert headers["x-dlq-error-type"] == b"EnvelopeError"
        assert b"over-commitment refused" in headers["x-dlq-error"]

        # The first agreement disburses 50M and is terminated with 10M returned, each
        # delivered twice: 150M - 50M + 10M = 110M goes back to the envelope, once.
        await send(bootstrap, tranche, tranche, termination, termination)
        await eventually(lambda: envelope_is("180000000.00", "120000000.00"))
        await eventually(lambda: consumer.stats.duplicates >= 4)
        assert (await http.get(f"/opportunities/{oid}/envelope")).json()["commitments"][0] == {
            "agreement_id": str(first),
            "amount": "150000000.00",
            "disbursed": "50000000.00",
            "released": "110000000.00",
            "state": "terminated",
        }

    # A plain Kafka client reads what the opportunity published, once each, in order.
    def complete(found: list[Any]) -> bool:
        return [ce_type(r) for r in found].count("EnvelopeReleased") == 1

    records = await read_keyed(bootstrap, since, oid, complete)
    assert [ce_type(r) for r in records] == [
        "OpportunityDrafted",
        "OpportunityPublished",
        "EnvelopeCommitted",
        "EnvelopeCommitted",
        "EnvelopeExhausted",
        "EnvelopeReleased",
    ]
    published = decode(records[1].key, records[1].value, records[1].headers)
    assert published.subject == oid
    data = published.data
    assert isinstance(data, opportunities.OpportunityPublished)
    assert (data.revision, data.partner_name, data.eligible_regions, data.envelope) == (
        1,
        "PT Sinar Nusantara Tbk",
        ["32.73"],
        Decimal("300000000.00"),
    )
    released = decode(records[-1].key, records[-1].value, records[-1].headers).data
    assert isinstance(released, opportunities.EnvelopeReleased)
    assert (released.amount, released.committed, released.remaining) == (
        Decimal("110000000.00"),
        Decimal("180000000.00"),
        Decimal("120000000.00"),
    )
