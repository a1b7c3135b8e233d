"""How far each consumer group is behind: committed offsets against the partitions' ends.

Read by the services' /metrics (for their own groups) and by `salur status` (for every
group). A partition the group has not committed on yet counts in full from its first
offset, since Salur's consumers start from the earliest record.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from salur_kit.kafka import KafkaSecurity, new_consumer


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None
    end: int
    start: int

    @property
    def lag(self) -> int:
        """Records not yet consumed (committed) by the group on this partition."""
        return max(0, self.end - (self.start if self.committed is None else self.committed))


def lag_by_topic(lags: Sequence[PartitionLag]) -> dict[tuple[str, str], int]:
    """(group, topic) -> records behind, summed over partitions."""
    totals: dict[tuple[str, str], int] = {}
    for item in lags:
        key = (item.group, item.topic)
        totals[key] = totals.get(key, 0) + item.lag
    return totals


class KafkaOffsets:
    """An admin client and a group-less consumer, opened together for a few questions."""

    def __init__(self, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> None:
        self.admin = admin
        self.consumer = consumer

    async def groups(self) -> list[str]:
        """Every consumer group the cluster knows, sorted."""
        return sorted(str(entry[0]) for entry in await self.admin.list_consumer_groups())

    async def lags(self, group: str, topics: Sequence[str] = ()) -> list[PartitionLag]:
        """Per-partition lag of `group` on the partitions it committed on and on `topics`."""
        committed = {
            tp: meta.offset
            for tp, meta in (await self.admin.list_consumer_group_offsets(group)).items()
            if meta.offset >= 0
        }
        partitions = set(committed)
        if topics:
            partitions.update(await topic_partitions(self.consumer, topics))
        if not partitions:
            return []
        ordered = sorted(partitions)
        ends = await self.consumer.end_offsets(ordered)
        starts = await self.consumer.beginning_offsets(ordered)
        return [
            PartitionLag(
                group=group,
                topic=tp.topic,
                partition=tp.partition,
                committed=committed.get(tp),
                end=int(ends[tp]),
                start=int(starts[tp]),
            )
            for tp in ordered
        ]


async def topic_partitions(
    consumer: AIOKafkaConsumer, topics: Sequence[str]
) -> list[TopicPartition]:
    """Every partition of `topics` (missing topics have none), from fresh cluster metadata.

    A consumer without subscriptions keeps no metadata of its own for long (its periodic
    refresh asks for no topics), so the cluster is asked afresh.
    """
    cluster = await consumer._client.fetch_all_metadata()
    return [
        TopicPartition(topic, number)
        for topic in topics
        for number in sorted(cluster.partitions_for_topic(topic) or ())
    ]


@contextlib.asynccontextmanager
async def kafka_offsets(
    bootstrap_servers: str, *, timeout_seconds: float = 5.0
) -> AsyncIterator[KafkaOffsets]:
    timeout_ms = int(timeout_seconds * 1000)
    security = KafkaSecurity()
    admin = AIOKafkaAdminClient(
        **security.client_options(),
        bootstrap_servers=bootstrap_servers,
        client_id="salur-lag",
        request_timeout_ms=timeout_ms,
    )
    consumer = new_consumer(
        bootstrap_servers=bootstrap_servers,
        security=security,
        client_id="salur-lag",
        enable_auto_commit=False,
        request_timeout_ms=timeout_ms,
    )
    async with asyncio.timeout(timeout_seconds):
        await admin.start()
        try:
            await consumer.start()
        except BaseException:
            await admin.close()
            raise
    try:
        yield KafkaOffsets(admin, consumer)
    finally:
        await consumer.stop()
        await admin.close()


class CachedGroupLags:
    """Lags of a service's groups (`(group, topics)` pairs, known once its consumers
    start), asked of Kafka at most once per `ttl_seconds`.

    Scrapes come every few seconds from more than one scraper; the offsets barely move
    between them, and each question costs Kafka connections.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        groups: Callable[[], Sequence[tuple[str, Sequence[str]]]],
        *,
        ttl_seconds: float = 5.0,
        timeout_seconds: float = 1.5,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.groups = groups
        self.ttl_seconds = ttl_seconds
        self.timeout_seconds = timeout_seconds
        self._value: list[PartitionLag] = []
        self._fetched_at = -float("inf")
        self._lock = asyncio.Lock()

    async def get(self) -> list[PartitionLag]:
        async with self._lock:
            if time.monotonic() - self._fetched_at >= self.ttl_seconds:
                self._value = await self._fetch()
                self._fetched_at = time.monotonic()
            return self._value

    async def _fetch(self) -> list[PartitionLag]:
        groups = self.groups()
        if not groups:
            return []
        async with kafka_offsets(
            self.bootstrap_servers, timeout_seconds=self.timeout_seconds
        ) as offsets:
            found: list[PartitionLag] = []
            for group, topics in groups:
                found.extend(await offsets.lags(group, topics))
            return found
