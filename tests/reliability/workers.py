"""Processes the crash tests kill: a relay and a tracked consumer, each with a crash point.

Run as `python tests/reliability/workers.py relay|consume ...`. `--crash-at N` makes the
process SIGKILL itself at the most dangerous moment of the N-th unit of work: for the relay,
after Kafka acknowledged a batch and before its position is recorded; for the consumer,
after an effect committed and before the message's offset is committed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking
from salur_contracts.cloudevents import Envelope
from salur_kit.consumer import BrokerDeadLetters, EventSourcedEffects, TrackedConsumer, subscribe
from salur_kit.eventstore import ServiceApplication, postgres_env
from salur_kit.kafka import new_broker, new_producer
from salur_kit.relay import OutboxRelay
from salur_registry.application import RegistryApplication
from salur_registry.integration import to_integration


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class CrashingRelay(OutboxRelay):
    def __init__(self, crash_at: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.crash_at = crash_at
        self.batches = 0

    async def record_position(self, conn: psycopg.AsyncConnection[Any], position: int) -> None:
        self.batches += 1
        if self.batches == self.crash_at:
            print(f"crashing after producing up to {position}", flush=True)
            die()
        await super().record_position(conn, position)


async def relay(args: argparse.Namespace) -> None:
    app = RegistryApplication(postgres_env(args.database_url))
    producer = new_producer(args.bootstrap, client_id="crash-relay")
    await producer.start()
    try:
        worker = CrashingRelay(
            crash_at=args.crash_at,
            app=app,
            database_url=args.database_url,
            sender=producer,
            to_integration=to_integration,
            topic_for=lambda _: args.topic,
            batch_size=args.batch_size,
        )
        await worker.drain()
        print(f"relayed {worker.stats.relayed}", flush=True)
    finally:
        await producer.stop()


class Tally(Aggregate):
    """Counts the events seen per upstream aggregate: the effect under test."""

    @event("Started")
    def __init__(self, id: UUID) -> None:
        self.count = 0

    @event("Counted")
    def count_one(self, version: int) -> None:
        self.count += 1


class TallyApp(ServiceApplication):
    name = "tally"

    def policy(self, envelope: Envelope) -> Sequence[Aggregate]:
        tally_id = UUID(envelope.subject)
        try:
            tally: Tally = self.repository.get(tally_id)
        except Exception:
            tally = Tally(id=tally_id)
        tally.count_one(version=envelope.aggregate_version)
        return [tally]


class CrashingEffects(EventSourcedEffects):
    def __init__(self, app: TallyApp, crash_at: int) -> None:
        super().__init__(app, app.policy)
        self.crash_at = crash_at
        self.applied = 0

    def apply(self, envelope: Envelope, tracking: Tracking) -> None:
        super().apply(envelope, tracking)
        self.applied += 1
        if self.applied == self.crash_at:
            print(f"crashing after effect {self.applied}", flush=True)
            die()


async def consume(args: argparse.Namespace) -> None:
    app = TallyApp(postgres_env(args.database_url))
    broker = new_broker(args.bootstrap, client_id="crash-consumer")
    consumer = TrackedConsumer(
        group=args.group,
        topics=[args.topic],
        effects=CrashingEffects(app, args.crash_at),
        dead_letters=BrokerDeadLetters(broker),
    )
    subscribe(broker, consumer)
    await broker.start()
    try:
        idle, seen = 0.0, -1
        while idle < args.idle_seconds:
            await asyncio.sleep(0.25)
            total = consumer.stats.applied + consumer.stats.duplicates
            idle = idle + 0.25 if total == seen else 0.0
            seen = total
        print(
            f"applied {consumer.stats.applied} duplicates {consumer.stats.duplicates}", flush=True
        )
    finally:
        await broker.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["relay", "consume"])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", default="crash-test")
    parser.add_argument("--crash-at", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--idle-seconds", type=float, default=4.0)
    args = parser.parse_args(argv)
    asyncio.run(relay(args) if args.role == "relay" else consume(args))


if __name__ == "__main__":
    # Run through the importable module, so that stored event topics name `workers`, not
    # `__main__`, and the test process can read the aggregates back.
    import workers

    workers.main()
