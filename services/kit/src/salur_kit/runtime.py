"""The composition root every service shares: one process serving HTTP, relaying its
outbox, projecting its read models and running its tracked consumers.

A service describes itself with a `ServiceSpec`; `build_api` wires it to Postgres, Kafka,
auth and telemetry. Background loops are supervised: an error is logged and the loop
restarts after a backoff, so a Kafka or Postgres outage delays work but loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import uvicorn
import uvloop
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from psycopg_pool import AsyncConnectionPool
from salur_contracts import IntegrationEvent

from salur_kit import devtokens, service_metrics, telemetry
from salur_kit.auth import TokenVerifier
from salur_kit.consumer import (
    BrokerDeadLetters,
    Effects,
    TrackedConsumer,
    dead_letter_topic,
    subscribe,
)
from salur_kit.eventstore import ServiceApplication, postgres_env
from salur_kit.http import PostgresIdempotencyStore, create_api
from salur_kit.kafka import new_broker, new_producer
from salur_kit.projection import Projection, ProjectionRunner
from salur_kit.relay import OutboxRelay, ToIntegration
from salur_kit.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerSpec:
    """A tracked consumer: its group, the integration events it has an effect for, and
    where effects land. It reads those events' topics; their other events are skipped
    unread (see `salur_kit.consumer`)."""

    group: str
    handles: Sequence[type[IntegrationEvent]]
    effects: Callable[[ServiceApplication], Effects]
    # Topics to read instead of the handled events' own (a test's topic of its own).
    topics_instead: Sequence[str] = ()

    @property
    def topics(self) -> tuple[str, ...]:
        if self.topics_instead:
            return tuple(self.topics_instead)
        return tuple(dict.fromkeys(event.topic() for event in self.handles))

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(event.event_type() for event in self.handles)


Loop = Callable[[asyncio.Event], Awaitable[None]]


@dataclass(frozen=True)
class LoopSpec:
    """A background loop of the service's own (e.g. a check driven by time), supervised
    like the relay: `make` builds it from the running service once the pools are open."""

    name: str
    make: Callable[[Running], Loop]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    version: str
    application: Callable[[Mapping[str, str]], ServiceApplication]
    router: APIRouter
    to_integration: ToIntegration
    topic: str
    projections: Sequence[Callable[[], Projection]] = ()
    consumers: Sequence[ConsumerSpec] = field(default_factory=tuple)
    loops: Sequence[LoopSpec] = ()


@dataclass
class Running:
    """What a running service holds; kept on `api.state.runtime` for the edges and tests."""

    settings: ServiceSettings
    app: ServiceApplication
    read_pool: AsyncConnectionPool
    producer: AIOKafkaProducer
    relay: OutboxRelay
    projections: list[ProjectionRunner]
    consumers: list[TrackedConsumer]
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def supervise(
    name: str, loop: Callable[[asyncio.Event], Awaitable[None]], stopping: asyncio.Event
) -> None:
    backoff = 0.5
    while not stopping.is_set():
        try:
            await loop(stopping)
        except Exception:
            log.exception("background loop failed; restarting", extra={"fields": {"loop": name}})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=backoff)
            backoff = min(backoff * 2, 10.0)
        else:
            return


def token_verifier(settings: ServiceSettings) -> TokenVerifier:
    """The configured JWKS; in development, the local dev issuer's when none is set."""
    if settings.jwks_url:
        return TokenVerifier(
            issuer=settings.jwt_issuer, audience=settings.jwt_audience, jwks_url=settings.jwks_url
        )
    path = settings.jwks_path
    if path is None:
        path = devtokens.ensure_issuer().jwks_path
    return TokenVerifier(issuer=settings.jwt_issuer, audience=settings.jwt_audience, jwks_path=path)


def build_api(spec: ServiceSpec, settings: ServiceSettings) -> FastAPI:
    telemetry.configure_tracing(spec.name)
    database_url = str(settings.database_url)
    app = spec.application(postgres_env(database_url))
    read_pool = AsyncConnectionPool(database_url, min_size=1, max_size=10, open=False)
    producer = new_producer(settings.kafka_bootstrap_servers, client_id=f"salur-{spec.name}")
    running = Running(
        settings=settings,
        app=app,
        read_pool=read_pool,
        producer=producer,
        relay=OutboxRelay(
            app=app, database_url=database_url, sender=producer, to_integration=spec.to_integration
        ),
        projections=[
            ProjectionRunner(app=app, database_url=database_url, projection=make())
            for make in spec.projections
        ],
        consumers=[],
    )

    async def postgres_ready() -> None:
        async with read_pool.connection() as conn:
            await conn.execute("SELECT 1")

    async def kafka_ready() -> None:
        await producer.partitions_for(spec.topic)

    @contextlib.asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        await read_pool.open()
        for runner in running.projections:
            await runner.setup()
            await runner.catch_up()
        await producer.start()
        broker = None
        if spec.consumers:
            broker = new_broker(settings.kafka_bootstrap_servers, client_id=f"salur-{spec.name}")
            for consumer_spec in spec.consumers:
                consumer = TrackedConsumer(
                    # A prefix lets a test run the service beside a running one without
                    # sharing (and splitting) its partitions; dead letters keep the topic.
                    group=settings.consumer_group_prefix + consumer_spec.group,
                    topics=consumer_spec.topics,
                    handles=consumer_spec.event_types,
                    effects=consumer_spec.effects(app),
                    dead_letters=BrokerDeadLetters(broker),
                    dlq_topic=dead_letter_topic(consumer_spec.group),
                )
                subscribe(broker, consumer)
                running.consumers.append(consumer)
            await broker.start()
        loops: list[tuple[str, Loop]] = [
            ("relay", running.relay.run),
            *[(runner.name, runner.run) for runner in running.projections],
            *[(loop.name, loop.make(running)) for loop in spec.loops],
        ]
        running.tasks = [
            asyncio.create_task(supervise(name, loop, running.stopping)) for name, loop in loops
        ]
        try:
            yield
        finally:
            running.stopping.set()
            await asyncio.gather(*running.tasks, return_exceptions=True)
            if broker is not None:
                for consumer in running.consumers:
                    await consumer.commits.close()
                await broker.stop()
            await producer.stop()
            await read_pool.close()
            app.close()

    api = create_api(
        title=f"Salur {spec.name}",
        version=spec.version,
        readiness_checks={"postgres": postgres_ready, "kafka": kafka_ready},
        idempotency_store=PostgresIdempotencyStore(database_url),
        token_verifier=token_verifier(settings),
        max_body_bytes=settings.max_body_bytes,
        lifespan=lifespan,
    )
    api.state.runtime = running
    api.state.read_pool = read_pool
    service_metrics.install(api.state.metrics, running)
    api.state.application = app
    api.include_router(spec.router)
    return api


def serve(spec: ServiceSpec) -> None:
    """Run one service process (the `python -m salur_<service>` entry point)."""
    settings = ServiceSettings()
    telemetry.configure(spec.name)

    async def main() -> None:
        # Built inside the running loop: the Kafka clients bind to it on construction.
        api = build_api(spec, settings)
        config = uvicorn.Config(
            api,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=20,
        )
        await uvicorn.Server(config).serve()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
