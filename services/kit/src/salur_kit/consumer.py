"""The tracked consumer: each integration event's effect applied exactly once.

Kafka delivers at least once, and the relay may repeat a tail after a crash, so an event
can arrive more than once and at different offsets. Tracking is therefore keyed by what
the event *is* — (consumer group, source, aggregate id) with the aggregate version as the
position — and recorded in the same Postgres transaction as the effect. A repeat finds
its tracking row and has no second effect.

A consumer names the event types it handles; the others on its topics (a BKM's unit on
registry's topic, say, for a service that only follows partners) are acknowledged from
their `ce_type` header alone: no decoding, no span, no Postgres. A type missing from the
catalogue is still decoded, so that it is dead-lettered, not dropped.

Failures: an undecodable message or a rule the event breaks is poison and goes straight to
the group's dead-letter topic; anything else is retried with backoff a bounded number of
times, then dead-lettered. Either way the message is acknowledged, so nothing blocks its
partition.

Offsets are committed at most once a second (`OffsetCommits`), for records already
handled: a commit per batch cost every consumer a broker round trip per event at the rates
a command makes, and what a crash leaves uncommitted is redelivered and found tracked.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import trace
from salur_contracts.base import CATALOGUE
from salur_contracts.cloudevents import (
    Envelope,
    MalformedEventError,
    UnknownEventTypeError,
    decode,
)

from salur_kit import telemetry
from salur_kit.errors import SalurError
from salur_kit.eventstore import TRACEPARENT_KEY, ServiceApplication

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes]]


class Outcome(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    IGNORED = "ignored"


class Effects(Protocol):
    """Where an event's effect lands; must record `tracking` atomically with it."""

    def is_processed(self, tracking: Tracking) -> bool: ...

    def apply(self, envelope: Envelope, tracking: Tracking) -> None:
        """Apply the effect; raise `IntegrityError` if `tracking` was already recorded."""


@dataclass(frozen=True)
class Delivery:
    """One decoded message: its event, tracking row and where it came from."""

    envelope: Envelope
    tracking: Tracking
    where: dict[str, str | int]


@runtime_checkable
class BatchEffects(Effects, Protocol):
    """Effects that can also take a whole batch of messages in one transaction."""

    @property
    def batches(self) -> bool: ...

    def apply_all(self, deliveries: Sequence[Delivery], group: str) -> None:
        """Apply every delivery's effect and record every tracking row, atomically; raise
        (having changed nothing) if any of them cannot be."""


def consume_span(group: str, delivery: Delivery) -> AbstractContextManager[trace.Span]:
    """The span of one consumed message, a child of the span that produced it."""
    return telemetry.tracer.start_as_current_span(
        f"consume {delivery.envelope.type}",
        context=telemetry.context_from_traceparent(delivery.envelope.traceparent),
        kind=trace.SpanKind.CONSUMER,
        attributes={"messaging.consumer.group.name": group, **delivery.where},
    )


class DeadLetters(Protocol):
    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None: ...


Policy = Callable[[Envelope], Sequence[Aggregate]]


class EventSourcedEffects:
    """Effects that are new domain events of the service's own aggregates.

    `policy` looks at the incoming event, loads and changes aggregates of `app`, and
    returns them; they are saved with the tracking record in one transaction.
    """

    def __init__(self, app: ServiceApplication, policy: Policy) -> None:
        self.app = app
        self.policy = policy

    def is_processed(self, tracking: Tracking) -> bool:
        recorder = self.app.recorder
        return recorder.has_tracking_id(tracking.application_name, tracking.notification_id)

    def apply(self, envelope: Envelope, tracking: Tracking) -> None:
        aggregates = self.policy(envelope)
        self.app.save_tracked(*aggregates, tracking=tracking)

    @property
    def batches(self) -> bool:
        return self.app.records_batches

    def apply_all(self, deliveries: Sequence[Delivery], group: str) -> None:
        """The policy for each message in order, a later one seeing what an earlier one
        changed (`batch_identity`); then every new event and tracking row in one
        transaction. Each new event keeps the trace of the message that caused it."""
        with self.app.batch_identity() as changed:
            for delivery in deliveries:
                with consume_span(group, delivery) as span:
                    aggregates = self.policy(delivery.envelope)
                    traceparent = telemetry.traceparent_of(span)
                for aggregate in aggregates:
                    changed[aggregate.id] = aggregate
                    if traceparent is not None:
                        for event in aggregate.pending_events:
                            vars(event).setdefault(TRACEPARENT_KEY, traceparent)
        first, *more = [delivery.tracking for delivery in deliveries]
        self.app.save_tracked(*changed.values(), tracking=first, more=more)


@dataclass
class ConsumerStats:
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    ignored: int = 0

    @property
    def processed(self) -> int:
        """Messages handled to an outcome, whatever it was."""
        return self.applied + self.duplicates + self.dead_lettered + self.ignored


BATCH_RECORDS = 500
COMMIT_SECONDS = 1.0


def dead_letter_topic(group: str) -> str:
    return f"salur.dlq.{group}"


class TrackedConsumer:
    def __init__(
        self,
        *,
        group: str,
        topics: Sequence[str],
        effects: Effects,
        dead_letters: DeadLetters,
        dlq_topic: str | None = None,
        handles: Collection[str] | None = None,
        max_attempts: int = 5,
        first_backoff_seconds: float = 0.05,
        max_backoff_seconds: float = 2.0,
    ) -> None:
        self.group = group
        self.dlq_topic = dlq_topic or dead_letter_topic(group)
        self.topics = list(topics)
        self.effects = effects
        self.dead_letters = dead_letters
        # Event types (`ce_type`) with an effect here; None: every type.
        self.handles = None if handles is None else frozenset(handles)
        self.commits = OffsetCommits()
        self.max_attempts = max_attempts
        self.first_backoff_seconds = first_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.stats = ConsumerStats()

    def ignores(self, headers: Headers) -> bool:
        """A catalogued event type this consumer has no effect for."""
        if self.handles is None:
            return False
        for name, value in headers:
            if name == "ce_type":
                event_type = value.decode("utf-8", "replace")
                return event_type not in self.handles and event_type in CATALOGUE
        return False

    def tracking_for(self, envelope: Envelope) -> Tracking:
        return Tracking(
            application_name=f"{self.group}:{envelope.source}:{envelope.subject}",
            notification_id=envelope.aggregate_version,
        )

    async def process(
        self,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Headers,
        topic: str,
        partition: int,
        offset: int,
    ) -> Outcome:
        received = await self._receive(key, value, headers, topic, partition, offset)
        if isinstance(received, Outcome):
            return received
        return await self._apply(received, key, value, headers)

    async def process_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """A fetched batch, in order. When the effects take batches, the messages with an
        effect are applied in one transaction; should that fail (a repeat, a rule one of
        them breaks, a conflict), each is processed on its own, as always."""
        pending: list[tuple[ConsumerRecord[Any, Any], Delivery]] = []
        for raw in records:
            received = await self._receive(
                raw.key, raw.value, raw.headers, raw.topic, raw.partition, raw.offset
            )
            if isinstance(received, Delivery):
                pending.append((raw, received))
        effects = self.effects
        if len(pending) > 1 and isinstance(effects, BatchEffects) and effects.batches:
            deliveries = [delivery for _, delivery in pending]
            try:
                await asyncio.to_thread(effects.apply_all, deliveries, self.group)
            except Exception as error:  # each on its own below: nothing was applied
                log.info(
                    "batch taken one message at a time",
                    extra={"fields": {"group": self.group, "reason": repr(error)[:200]}},
                )
            else:
                self.stats.applied += len(deliveries)
                return
        for raw, delivery in pending:
            await self._apply(delivery, raw.key, raw.value, raw.headers)

    async def _receive(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: Headers,
        topic: str,
        partition: int,
        offset: int,
    ) -> Delivery | Outcome:
        """One message skipped (not handled here), dead-lettered (undecodable) or decoded."""
        if self.ignores(headers):
            self.stats.ignored += 1
            return Outcome.IGNORED
        where: dict[str, str | int] = {
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "group": self.group,
        }
        try:
            envelope = decode(key, value, list(headers))
        except (MalformedEventError, UnknownEventTypeError) as error:
            return await self._dead_letter(key, value, headers, where, error, attempts=0)
        return Delivery(envelope, self.tracking_for(envelope), where)

    async def _apply(
        self, delivery: Delivery, key: bytes | None, value: bytes | None, headers: Headers
    ) -> Outcome:
        with consume_span(self.group, delivery):
            return await self._apply_with_retries(delivery, key, value, headers)

    async def _apply_with_retries(
        self, delivery: Delivery, key: bytes | None, value: bytes | None, headers: Headers
    ) -> Outcome:
        envelope, tracking, where = delivery.envelope, delivery.tracking, delivery.where
        backoff = self.first_backoff_seconds
        for attempt in range(1, self.max_attempts + 1):
            try:
                # One hop to a worker thread per attempt: the check and the effect are
                # both blocking Postgres calls. The first attempt skips the check: a repeat
                # fails on its tracking row when saved (IntegrityError), and the check
                # then comes with the next attempt.
                outcome = await asyncio.to_thread(
                    self._apply_once, envelope, tracking, check_first=attempt > 1
                )
            except IntegrityError:
                # Either a repeat that raced us, or a concurrent write to the same
                # aggregate; the next attempt tells which.
                continue
            except SalurError as error:
                # A repeat may break a rule its first delivery changed the state for.
                if await asyncio.to_thread(self.effects.is_processed, tracking):
                    self.stats.duplicates += 1
                    return Outcome.DUPLICATE
                return await self._dead_letter(key, value, headers, where, error, attempt)
            except Exception as error:
                if attempt == self.max_attempts:
                    return await self._dead_letter(key, value, headers, where, error, attempt)
                log.warning(
                    "effect failed, retrying",
                    extra={"fields": {**where, "attempt": attempt, "error": repr(error)}},
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)
            else:
                return outcome
        if await asyncio.to_thread(self.effects.is_processed, tracking):
            self.stats.duplicates += 1
            return Outcome.DUPLICATE
        exhausted = RuntimeError("conflicting concurrent writes on every attempt")
        return await self._dead_letter(key, value, headers, where, exhausted, self.max_attempts)

    def _apply_once(self, envelope: Envelope, tracking: Tracking, *, check_first: bool) -> Outcome:
        if check_first and self.effects.is_processed(tracking):
            self.stats.duplicates += 1
            return Outcome.DUPLICATE
        self.effects.apply(envelope, tracking)
        self.stats.applied += 1
        return Outcome.APPLIED

    async def _dead_letter(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: Headers,
        where: dict[str, Any],
        error: BaseException,
        attempts: int,
    ) -> Outcome:
        reason = str(error) or type(error).__name__
        dlq_headers = [
            *[(k, v) for k, v in headers if not k.startswith("x-dlq-")],
            ("x-dlq-error-type", type(error).__name__.encode()),
            ("x-dlq-error", reason[:2000].encode()),
            ("x-dlq-group", self.group.encode()),
            ("x-dlq-original-topic", str(where["topic"]).encode()),
            ("x-dlq-original-partition", str(where["partition"]).encode()),
            ("x-dlq-original-offset", str(where["offset"]).encode()),
            ("x-dlq-attempts", str(attempts).encode()),
        ]
        await self.dead_letters.send(self.dlq_topic, value, key, dlq_headers)
        self.stats.dead_lettered += 1
        log.error(
            "message dead-lettered",
            extra={"fields": {**where, "error": reason, "attempts": attempts}},
        )
        return Outcome.DEAD_LETTERED


class OffsetCommits:
    """Each partition's next offset after the records handled, committed to Kafka at most
    every `interval` seconds and never ahead of what was handled.

    A commit is explicit (not "everything fetched"), so a batch still being handled is
    never counted; it runs in the background, so no batch waits for it. A commit refused
    (the group rebalanced meanwhile) is dropped: its records are redelivered to whoever
    owns them now and found already tracked. Once `close`d (the service is stopping), each
    batch still handled is committed before its handler returns.
    """

    def __init__(self, interval: float = COMMIT_SECONDS) -> None:
        self.interval = interval
        self._pending: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._last = 0.0
        self._due: asyncio.Task[None] | None = None
        self._closing = False

    async def handled(
        self, consumer: AIOKafkaConsumer, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> None:
        self._consumer = consumer
        for record in records:
            self._pending[TopicPartition(record.topic, record.partition)] = record.offset + 1
        if self._closing:
            await self.commit()
        elif self._due is None:
            self._due = asyncio.create_task(self._commit_when_due())

    async def _commit_when_due(self) -> None:
        try:
            await asyncio.sleep(max(0.0, self._last + self.interval - time.monotonic()))
        finally:
            self._due = None
        await self.commit()

    async def commit(self) -> None:
        """Commit what is pending now (also on shutdown, before the consumer stops)."""
        pending, self._pending = self._pending, {}
        if not pending or self._consumer is None:
            return
        self._last = time.monotonic()
        assigned = self._consumer.assignment()
        offsets = {tp: offset for tp, offset in pending.items() if tp in assigned}
        try:
            if offsets:
                await self._consumer.commit(offsets)
        except KafkaError as error:
            log.warning(
                "offset commit refused; those records will be redelivered",
                extra={"fields": {"error": repr(error)}},
            )

    async def close(self) -> None:
        self._closing = True
        if self._due is not None:
            self._due.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._due
        await self.commit()


class BrokerDeadLetters:
    """Dead-letter publishing through the service's faststream broker."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        await self.broker.publish(
            value or b"",
            topic=topic,
            key=key,
            headers={k: v.decode("utf-8", "replace") for k, v in headers},
        )


async def _raw_body(message: Any) -> Any:
    """Leave decoding to the CloudEvents codec: faststream must not parse (and choke on) JSON."""
    return message.body


def subscribe(
    broker: KafkaBroker, consumer: TrackedConsumer, *, max_records: int = BATCH_RECORDS
) -> None:
    """Wire a tracked consumer into the faststream broker (the thin Kafka edge).

    Records arrive in batches and are processed one by one, in partition order; their
    offsets are committed by `consumer.commits`, at most once a second. Committing per
    batch costs a broker round trip each, and at the rate commands come a batch is often a
    single record; a crash before the commit only redelivers records whose tracking rows
    already make them harmless.
    """

    @broker.subscriber(
        *consumer.topics,
        group_id=consumer.group,
        auto_offset_reset="earliest",
        batch=True,
        max_records=max_records,
        # Handled outcomes (applied, duplicate, dead-lettered, ignored) are committed by
        # `consumer.commits`; only a failure to reach the dead-letter topic itself rewinds
        # the batch (nack), so nothing is lost.
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_body,
    )
    async def _on_batch(message: KafkaMessage) -> None:
        records = message.raw_message
        assert isinstance(records, tuple), "subscribed in batches"
        try:
            await consumer.process_batch(records)
        except BaseException:
            await message.nack()
            raise
        assert isinstance(message.consumer, AIOKafkaConsumer)
        await consumer.commits.handled(message.consumer, records)
