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


def store_events(database_url: str, events: int) -> None:
    """Registers BKMs in bulk (1,000 per transaction) so that setup stays quick."""
    app = RegistryApplication(postgres_env(database_url))
    try:
        for start in range(0, events, 1000):
            bkms = []
            for i in range(start, min(events, start + 1000)):
                bkm = Bkm(
                    id=uuid.uuid4(),
                    name=f"BKM {i}",
                    region_code=f"32.73.{i % 90 + 10:02d}.{i % 9000 + 1000:04d}",
                    address="Jl. Merdeka",
                    legal_deed_number=f"AHU-{i}",
                    founded_on=dt.date(2009, 1, 1),
                    registered_by="bench",
                )
                bkms.append(bkm)
            app.save(*bkms)
    finally:
        app.close()


async def relay_rate(database_url: str, bootstrap: str, topic: str, events: int) -> float:
    app = RegistryApplication(postgres_env(database_url))
    producer = new_producer(bootstrap, client_id="bench-relay")
    await producer.start()
    try:
        relay = OutboxRelay(
            app=app,
            database_url=database_url,
            sender=producer,
            to_integration=to_integration,
            topic_for=lambda _: topic,
        )
        started = time.perf_counter()
        await relay.drain()
        elapsed = time.perf_counter() - started
        assert relay.stats.relayed == events, (relay.stats.relayed, events)
        return events / elapsed
    finally:
        await producer.stop()
        app.close()
