"""The ledger's Kafka edge: every service's topic read, sealed in batches, checkpointed.

Exactly-once effect: the frontier (next offset per partition) is stored in the same
transaction as the entries it covers, so a redelivered record below it is dropped, and a
relay's repeat of an event (same CloudEvents source and id) is not appended twice.
Reproducibility: while published checkpoints lie ahead of the ledger (after the ledger was
dropped, say), batches are cut at their frontiers, so the rebuilt ledger reaches the same
roots; past them, batches are cut every `seal_interval` and each one is checkpointed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata, TopicPartition
from salur_contracts.cloudevents import MalformedEventError
from salur_kit.consumer import dead_letter_topic
from salur_kit.kafka import new_consumer

from salur_audit import ledger
from salur_audit.batches import Buffer, Record
from salur_audit.canonical import Entry, entry_of
from salur_audit.kafka_io import frontier_key, partitions, read_to_end
from salur_audit.verifier import Checkpoint, verify_checkpoint
from salur_audit.writer import LedgerWriter, Sealed

log = logging.getLogger(__name__)
LOG_KEY = b"salur.audit.v1"
YIELD_EVERY = 250  # records canonicalised between two turns of the event loop


@dataclass
class SequencerStats:
    appended: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    checkpoints: int = 0
    adopted: int = 0


async def published_checkpoints(
    bootstrap_servers: str, topic: str, writer: LedgerWriter
) -> list[Checkpoint]:
    """Checkpoints our key signed that lie ahead of the ledger, in order, one per number."""
    ahead: dict[int, Checkpoint] = {}
    async for record in read_to_end(bootstrap_servers, [topic]):
        try:
            checkpoint = Checkpoint.from_json(json.loads(record.value or b""))
        except (ValueError, KeyError, TypeError):
            continue
        if checkpoint.number > writer.number and verify_checkpoint(
            writer.signer.public_key, checkpoint
        ):
            ahead.setdefault(checkpoint.number, checkpoint)
    return [ahead[number] for number in sorted(ahead)]


@dataclass
class Sequencer:
    writer: LedgerWriter
    producer: AIOKafkaProducer
    bootstrap_servers: str
    source_topics: Sequence[str]
    checkpoint_topic: str
    group: str = "audit"
    dead_letters: str = dead_letter_topic("audit")
    seal_interval_seconds: float = 1.0
    checkpoint_interval_seconds: float = 300.0
    max_batch: int = 5000
    stats: SequencerStats = field(default_factory=SequencerStats)
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    _consumer: AIOKafkaConsumer | None = None
    _sealing: asyncio.Task[None] | None = None

    async def run(self, stopping: asyncio.Event) -> None:
        await self.writer.load()
        await self.publish_pending()
        # The published checkpoints are read while the consumer connects and seeks: both
        # are Kafka round trips, and neither needs the other.
        reading = asyncio.create_task(
            published_checkpoints(self.bootstrap_servers, self.checkpoint_topic, self.writer)
        )
        consumer = new_consumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_batch,
        )
        try:
            await consumer.start()
            self._consumer = consumer
            assigned = await partitions(consumer, self.source_topics)
            consumer.assign(assigned)
            await self._seek(consumer, assigned)
            await self._loop(consumer, assigned, await reading, stopping)
            await self._settle()
        finally:
            for task in (reading, self._sealing):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            self._sealing = None
            await consumer.stop()

    async def _seek(self, consumer: AIOKafkaConsumer, assigned: list[TopicPartition]) -> None:
        frontier = self.writer.frontier
        for tp in assigned:
            offset = frontier.get(frontier_key(tp.topic, tp.partition))
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)

    async def _loop(
        self,
        consumer: AIOKafkaConsumer,
        assigned: list[TopicPartition],
        guide: list[Checkpoint],
        stopping: asyncio.Event,
    ) -> None:
        buffer = Buffer(self.writer.frontier)
        first_buffered: float | None = None
        last_checkpoint = time.monotonic()
        while not stopping.is_set():
            if self._sealing is not None and self._sealing.done():
                await self._settle()  # raises what the batch's write raised
            fetched = await consumer.getmany(timeout_ms=100, max_records=self.max_batch)
            for records in fetched.values():
                buffer.add(Record.of(r) for r in records)
            if len(buffer) and first_buffered is None:
                first_buffered = time.monotonic()
            if guide:
                if await self._reached(consumer, assigned, guide[0].frontier):
                    await self._seal(buffer, guide.pop(0))
                    last_checkpoint = time.monotonic()
                continue
            due = first_buffered is not None and (
                len(buffer) >= self.max_batch
                or time.monotonic() - first_buffered >= self.seal_interval_seconds
            )
            periodic = time.monotonic() - last_checkpoint >= self.checkpoint_interval_seconds
            if due or periodic:
                await self._seal(buffer, None)
                first_buffered, last_checkpoint = None, time.monotonic()
            elif not len(buffer) and not fetched and self._sealing is None:
                self.caught_up.set()

    async def _reached(
        self, consumer: AIOKafkaConsumer, assigned: list[TopicPartition], target: Mapping[str, int]
    ) -> bool:
        for tp in assigned:
            wanted = target.get(frontier_key(tp.topic, tp.partition))
            if wanted is not None and await consumer.position(tp) < wanted:
                return False
        return True

    async def _seal(self, buffer: Buffer, adopt: Checkpoint | None) -> None:
        """Cut the next batch and start writing it once the one before has committed.

        The batch is canonicalised while the previous one's transaction and checkpoint are
        still on their way (their round trips advance whenever this yields), so the CPU
        work and the waiting overlap; batches are still written strictly one after another.
        """
        records, frontier = buffer.take(adopt.frontier if adopt else None)
        entries = await self._entries(records, dead_letter=adopt is None)
        await self._settle()
        self._sealing = asyncio.create_task(self._write(entries, frontier, adopt))

    async def _settle(self) -> None:
        """Wait for the batch being written; what its write raised is raised here."""
        if self._sealing is not None:
            sealing, self._sealing = self._sealing, None
            await sealing

    async def _write(
        self, entries: list[Entry], frontier: Mapping[str, int], adopt: Checkpoint | None
    ) -> None:
        try:
            sealed = await self.writer.seal(entries, frontier, adopt=adopt)
        except ledger.ConcurrentWriterError:
            # An on-demand checkpoint (same frontier) may have been cut meanwhile; anything
            # else is a second writer, and reloading lets the supervisor's restart decide.
            previous = self.writer.frontier
            await self.writer.load()
            if self.writer.frontier != previous:
                raise
            sealed = await self.writer.seal(entries, frontier, adopt=None)
        self._count(sealed)
        if not sealed.adopted:
            await self.publish(sealed.checkpoint)
        await self._commit_offsets()

    async def _entries(self, records: list[Record], *, dead_letter: bool) -> list[Entry]:
        entries = []
        for number, record in enumerate(records, 1):
            if number % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # lets the previous batch's write take its next step
            try:
                entries.append(
                    entry_of(
                        key=record.key,
                        value=record.value,
                        headers=record.headers,
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                    )
                )
            except MalformedEventError as error:
                self.stats.dead_lettered += 1
                if dead_letter:
                    await self._dead_letter(record, error)
        return entries

    async def _dead_letter(self, record: Record, error: Exception) -> None:
        headers = [
            *[(k, v) for k, v in record.headers if not k.startswith("x-dlq-")],
            ("x-dlq-error-type", type(error).__name__.encode()),
            ("x-dlq-error", str(error)[:2000].encode()),
            ("x-dlq-group", self.group.encode()),
            ("x-dlq-original-topic", record.topic.encode()),
            ("x-dlq-original-partition", str(record.partition).encode()),
            ("x-dlq-original-offset", str(record.offset).encode()),
            ("x-dlq-attempts", b"0"),
        ]
        await self.producer.send_and_wait(
            self.dead_letters, record.value or b"", key=record.key, headers=headers
        )
        log.error(
            "record dead-lettered",
            extra={"fields": {"where": record.where, "offset": record.offset, "error": str(error)}},
        )

    def _count(self, sealed: Sealed) -> None:
        self.stats.appended += sealed.appended
        self.stats.duplicates += sealed.duplicates
        self.stats.checkpoints += 1
        self.stats.adopted += int(sealed.adopted)

    async def publish(self, checkpoint: Checkpoint) -> None:
        value = json.dumps(checkpoint.to_json(), separators=(",", ":")).encode()
        await self.producer.send_and_wait(self.checkpoint_topic, value, key=LOG_KEY)
        await ledger.mark_published(await self.writer.connection(), checkpoint.number)

    async def publish_pending(self) -> None:
        """Checkpoints stored but not acknowledged by Kafka before a crash go out first."""
        for checkpoint in await ledger.unpublished(await self.writer.connection()):
            await self.publish(checkpoint)

    async def _commit_offsets(self) -> None:
        """Kafka's view of the group follows the ledger's (for lag dashboards only)."""
        if self._consumer is None:
            return
        offsets = {}
        for where, offset in self.writer.frontier.items():
            topic, partition = where.rsplit(":", 1)
            offsets[TopicPartition(topic, int(partition))] = OffsetAndMetadata(offset, "")
        try:
            await self._consumer.commit(offsets)
        except Exception as error:  # informational only: the ledger holds the real positions
            log.warning("could not commit group offsets", extra={"fields": {"error": repr(error)}})
