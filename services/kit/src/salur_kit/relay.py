"""The outbox relay: the service's notification log, in order, onto Kafka.

The application's stored events are the outbox. The relay follows the notification log
(see `follower`), maps each domain event to its integration event through the service's
`integration` module, produces with `acks=all` and idempotence, and only after Kafka has
acknowledged the batch records the relayed position in the same database. A crash between
producing and recording repeats the tail: at-least-once, with the CloudEvent id derived
from (aggregate id, version) so consumers recognise the repeat. Per-aggregate order holds
because the Kafka key is the aggregate id.

A batch with nothing to publish (events that stay inside the service, like planning's
knowledge of a BKM) records its position lazily: with the next published batch, or once
a second while idle. Re-reading such events after a crash publishes nothing, and under load
it saves every event of that kind a write of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from eventsourcing.persistence import Notification
from opentelemetry import trace
from salur_contracts.base import IntegrationEvent
from salur_contracts.cloudevents import encode, new_envelope

from salur_kit import positions, telemetry
from salur_kit.eventstore import ServiceApplication
from salur_kit.follower import LogFollower

EVENT_ID_NAMESPACE = uuid.UUID("6f1c1f5e-5a1a-4c55-9a43-3c1b2f1d0a11")
_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes
ToIntegration = Callable[[Any], IntegrationEvent | None]


class Sender(Protocol):
    """The part of `AIOKafkaProducer` the relay needs."""

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[Any]: ...


def event_id(originator_id: uuid.UUID | str, originator_version: int) -> str:
    """Stable CloudEvent id: a re-relayed event carries the same id as the first time.

    `str(uuid.uuid5(EVENT_ID_NAMESPACE, "<id>:<version>"))`, computed without building a
    `UUID` object, which costs most of uuid5's time and is paid for every relayed event.
    """
    name = f"{originator_id}:{originator_version}".encode()
    raw = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@dataclass
class RelayStats:
    relayed: int = 0
    position: int = 0


class OutboxRelay:
    def __init__(
        self,
        *,
        app: ServiceApplication,
        database_url: str,
        sender: Sender,
        to_integration: ToIntegration,
        topic_for: Callable[[IntegrationEvent], str] | None = None,
        name: str = "relay",
        batch_size: int = 1000,
    ) -> None:
        self.name = name
        self.app = app
        self.database_url = database_url
        self.sender = sender
        self.to_integration = to_integration
        self.topic_for = topic_for or (lambda event: event.topic())
        self.stats = RelayStats()
        self._confirming: asyncio.Task[None] | None = None
        self.lazy = positions.LazyPosition()
        self.follower = LogFollower(
            app=app, database_url=database_url, lock_name=name, batch_size=batch_size
        )

    async def position(self) -> int:
        return await positions.load_from(self.database_url, self.name)

    async def lag(self) -> int:
        """Events stored but not yet on Kafka."""
        return max(0, await self.follower.newest() - await self.position())

    async def publish(
        self, batch: Sequence[Notification], conn: psycopg.AsyncConnection[Any]
    ) -> None:
        """Produce one batch; its position is recorded once Kafka acknowledged all of it.

        The acknowledgement is awaited in the background, so the next batch is read and
        produced meanwhile; positions are still recorded strictly in order, one batch
        after the other, and a failed batch stops the relay before anything later counts.
        """
        acks = await self._produce(batch)
        await self.settle()
        if acks or self.lazy.due():
            self._confirming = asyncio.create_task(self._confirm(acks, conn, batch[-1].id))
        else:
            self.lazy.skip(batch[-1].id)

    async def idle(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Caught up (and every half second while it stays so): settle what is in flight,
        and record a lazily kept position once it is due."""
        await self.settle()
        if self.lazy.unrecorded is not None and self.lazy.due():
            await self.record_position(conn, self.lazy.unrecorded)

    async def settle(self) -> None:
        """Wait until every produced batch is acknowledged and its position recorded."""
        confirming, self._confirming = self._confirming, None
        if confirming is not None:
            await confirming

    async def _confirm(
        self, acks: list[asyncio.Future[Any]], conn: psycopg.AsyncConnection[Any], position: int
    ) -> None:
        await asyncio.gather(*acks)
        self.stats.relayed += len(acks)
        await self.record_position(conn, position)

    async def _produce(self, batch: Sequence[Notification]) -> list[asyncio.Future[Any]]:
        mapper = self.app.mapper_with_trace
        pending = []
        for notification in batch:
            domain_event, traceparent = mapper.to_domain_event_with_trace(notification)
            data = self.to_integration(domain_event)
            if data is None:
                continue
            topic = self.topic_for(data)
            span = telemetry.tracer.start_span(
                f"publish {data.event_type()}",
                context=telemetry.context_from_traceparent(traceparent),
                kind=trace.SpanKind.PRODUCER,
                attributes={"messaging.system": "kafka", "messaging.destination.name": topic},
            )
            envelope = new_envelope(
                data,
                aggregate_version=notification.originator_version,
                time=domain_event.timestamp,
                id=event_id(notification.originator_id, notification.originator_version),
                traceparent=telemetry.traceparent_of(span),
            )
            span.end()
            record = encode(envelope)
            pending.append(
                await self.sender.send(
                    topic, value=record.value, key=record.key, headers=record.headers
                )
            )
        return pending

    async def record_position(self, conn: psycopg.AsyncConnection[Any], position: int) -> None:
        """Called only after Kafka acknowledged everything up to `position`."""
        await positions.save(conn, self.name, position)
        self.stats.position = position
        self.lazy.recorded(position)

    async def drain(self) -> None:
        """Relay everything stored so far (used by tests and benchmarks)."""
        await positions.ensure_table(self.database_url)
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as c:
            position = await positions.load(c, self.name)
            async for batch in self.follower.batches_after(position):
                await self.publish(batch, c)
            await self.settle()
            if self.lazy.unrecorded is not None:
                await self.record_position(c, self.lazy.unrecorded)

    async def run(self, stopping: asyncio.Event) -> None:
        await positions.ensure_table(self.database_url)
        await self.follower.follow(
            stopping=stopping,
            load_position=self.position,
            handle=self.publish,
            when_idle=self.idle,
        )
