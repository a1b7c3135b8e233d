"""Relay throughput: stored registry events drained onto a fresh Kafka topic."""

from __future__ import annotations

import datetime as dt
import time
import uuid

from salur_kit.eventstore import postgres_env
from salur_kit.kafka import new_producer
from salur_kit.relay import OutboxRelay
from salur_registry.application import RegistryApplication
from salur_registry.domain import Bkm
from salur_registry.integration import to_integration

SAVE_CHUNK = 1000


def _bkm(i: int) -> Bkm:
    return Bkm(
        id=uuid.uuid4(),
        name=f"BKM {i}",
        region_code=f"32.73.{i % 90 + 10:02d}.{i % 9000 + 1000:04d}",
        address="Jl. Merdeka",
        legal_deed_number=f"AHU-{i}",
        founded_on=dt.date(2009, 1, 1),
        registered_by="bench",
    )


def store_events(database_url: str, events: int) -> None:
    """Registers BKMs in bulk (1,000 per transaction) so that setup stays quick."""
    app = RegistryApplication(postgres_env(database_url))
    try:
        for start in range(0, events, SAVE_CHUNK):
            app.save(*[_bkm(i) for i in range(start, min(events, start + SAVE_CHUNK))])
    finally:
        app.close()


async def relay_rate(
    database_url: str, bootstrap: str, topic: str, events: int, name: str = "relay"
) -> float:
    """Events per second from `OutboxRelay.drain()`: read the log, map, produce, record.
    Each `name` is a relay of its own, with its own position: it drains the log from the
    start."""
    app = RegistryApplication(postgres_env(database_url))
    producer = new_producer(bootstrap, client_id="salur-bench-relay")
    await producer.start()
    try:
        relay = OutboxRelay(
            app=app,
            database_url=database_url,
            sender=producer,
            to_integration=to_integration,
            topic_for=lambda _: topic,
            name=name,
        )
        started = time.perf_counter()
        await relay.drain()
        elapsed = time.perf_counter() - started
        if relay.stats.relayed != events:
            raise RuntimeError(f"the relay sent {relay.stats.relayed} of {events} events")
        return events / elapsed
    finally:
        await producer.stop()
        app.close()
