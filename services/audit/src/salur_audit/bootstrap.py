"""The audit service's composition: ledger migration, signing key, sequencer and HTTP.

It is not an event-sourced application, so it composes the kit's parts (HTTP factory,
Kafka producer, supervision, telemetry) rather than the kit's `ServiceSpec`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool
from salur_kit import telemetry
from salur_kit.consumer import dead_letter_topic
from salur_kit.http import InMemoryIdempotencyStore, create_api
from salur_kit.kafka import new_producer
from salur_kit.runtime import supervise, token_verifier

from salur_audit import leader, ledger, signing
from salur_audit.api import router
from salur_audit.sequencer import Sequencer
from salur_audit.settings import CONSUMER_GROUP, AuditSettings
from salur_audit.writer import LedgerWriter

NAME = "audit"
VERSION = "0.1.0"


def build_api(settings: AuditSettings) -> FastAPI:
    telemetry.configure_tracing(NAME)
    ledger.migrate(settings.owner_url, settings.writer_role)
    signer = signing.load_or_generate(
        settings.key_path, development=settings.environment == "development"
    )
    read_pool = AsyncConnectionPool(settings.writer_url, min_size=1, max_size=10, open=False)
    producer = new_producer(settings.kafka_bootstrap_servers, client_id=f"salur-{NAME}")
    sequencer = Sequencer(
        writer=LedgerWriter(settings.writer_url, signer),
        producer=producer,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        source_topics=settings.source_topics,
        checkpoint_topic=settings.checkpoint_topic,
        group=settings.consumer_group_prefix + CONSUMER_GROUP,
        dead_letters=dead_letter_topic(CONSUMER_GROUP),
        seal_interval_seconds=settings.seal_interval_seconds,
        checkpoint_interval_seconds=settings.checkpoint_interval_seconds,
        max_batch=settings.max_batch,
    )
    stopping = asyncio.Event()

    async def lead(stopping: asyncio.Event) -> None:
        await leader.while_leader(settings.writer_url, stopping, sequencer.run)

    async def postgres_ready() -> None:
        async with read_pool.connection() as conn:
            await conn.execute("SELECT 1")

    async def kafka_ready() -> None:
        await producer.partitions_for(settings.checkpoint_topic)

    @contextlib.asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        await read_pool.open()
        await producer.start()
        # One sequencer among the replicas (leader.py); the others serve HTTP and wait.
        task = asyncio.create_task(supervise("sequencer", lead, stopping))
        try:
            yield
        finally:
            stopping.set()
            await asyncio.gather(task, return_exceptions=True)
            await sequencer.writer.close()
            await producer.stop()
            await read_pool.close()

    api = create_api(
        title="Salur audit",
        version=VERSION,
        readiness_checks={"postgres": postgres_ready, "kafka": kafka_ready},
        idempotency_store=InMemoryIdempotencyStore(),
        token_verifier=token_verifier(settings),
        max_body_bytes=settings.max_body_bytes,
        lifespan=lifespan,
    )
    api.state.read_pool = read_pool
    api.state.signer = signer
    api.state.sequencer = sequencer
    api.include_router(router)
    return api


def serve() -> None:
    import uvicorn
    import uvloop

    settings = AuditSettings()
    telemetry.configure(NAME)

    async def main() -> None:
        api = build_api(settings)
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
