"""One trace follows a command: HTTP request -> stored events -> relay -> Kafka -> consumer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from eventsourcing.persistence import Tracking
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext
from salur_contracts.cloudevents import Envelope
from salur_kit.auth import Role
from salur_kit.consumer import BrokerDeadLetters, TrackedConsumer, subscribe
from salur_kit.devtokens import ensure_issuer
from salur_kit.kafka import new_broker
from salur_kit.relay import OutboxRelay
from salur_kit.runtime import Running, build_api
from salur_kit.settings import ServiceSettings
from salur_registry.bootstrap import SPEC

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


class Seen:
    def __init__(self) -> None:
        self.subjects: list[str] = []

    def is_processed(self, tracking: Tracking) -> bool:
        return False

    def apply(self, envelope: Envelope, tracking: Tracking) -> None:
        self.subjects.append(envelope.subject)


@pytest.fixture
async def registry_api(
    fresh_database_url: str, kafka_bootstrap_servers: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Running, str]]:
    issuer = ensure_issuer(tmp_path)
    settings = ServiceSettings(
        SALUR_SERVICE="registry",
        DATABASE_URL=fresh_database_url,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap_servers,
        SALUR_JWKS_PATH=str(issuer.jwks_path),
    )
    api = build_api(SPEC, settings)
    token = issuer.token(role=Role.facilitator, subject="fac", region="32.73")
    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(api)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://registry",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            yield client, api.state.runtime, fresh_database_url


async def test_one_trace_follows_a_command_to_the_consumer(
    spans: InMemorySpanExporter,
    registry_api: tuple[httpx.AsyncClient, Running, str],
    kafka_bootstrap_servers: str,
    unique_topic: str,
) -> None:
    http, running, database_url = registry_api
    spans.clear()
    response = await http.post(
        "/bkms",
        json={
            "name": "BKM Trace",
            "region_code": "32.73.01.1001",
            "address": "Jl.",
            "legal_deed_number": "AHU",
            "founded_on": "2010-01-01",
        },
    )
    assert response.status_code == 201, response.text
    bkm_id = response.json()["bkm_id"]

    relay = OutboxRelay(
        app=running.app,
        database_url=database_url,
        sender=running.producer,
        to_integration=SPEC.to_integration,
        topic_for=lambda _: unique_topic,
        name="trace-test-relay",
    )
    await relay.drain()

    seen = Seen()
    broker = new_broker(kafka_bootstrap_servers, client_id="trace-test")
    consumer = TrackedConsumer(
        group=f"trace-{uuid.uuid4().hex[:6]}",
        topics=[unique_topic],
        effects=seen,
        dead_letters=BrokerDeadLetters(broker),
    )
    subscribe(broker, consumer)
    await broker.start()
    try:
        for _ in range(100):
            if seen.subjects:
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()
    assert seen.subjects == [bkm_id]

    finished: list[ReadableSpan] = list(spans.get_finished_spans())
    by_name = {s.name: s for s in finished}
    server = by_name["POST /bkms"]
    store = by_name["store Bkm events"]
    # The service's own relay publishes the event to the registry topic too: take this
    # relay's span, the one that published to the test's topic.
    publish = next(
        s
        for s in finished
        if s.name.startswith("publish salur.registry.BkmRegistered")
        and (s.attributes or {}).get("messaging.destination.name") == unique_topic
    )
    consume = by_name["consume salur.registry.BkmRegistered.v1"]
    assert server.context is not None
    trace_id = server.context.trace_id
    for span in (store, publish, consume):
        assert span.context is not None
        assert span.context.trace_id == trace_id, span.name
    assert store.parent is not None
    parents = {s.context.span_id: s.parent for s in finished if s.context is not None}
    ancestor: SpanContext | None = store.parent
    chain: list[int] = []
    while ancestor is not None:  # the command's span sits under FastAPI's endpoint span
        chain.append(ancestor.span_id)
        ancestor = parents.get(ancestor.span_id)
    assert server.context.span_id in chain
    assert publish.parent is not None
    assert store.context is not None
    assert publish.parent.span_id == store.context.span_id
    assert consume.parent is not None
    assert publish.context is not None
    assert consume.parent.span_id == publish.context.span_id
