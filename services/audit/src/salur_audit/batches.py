"""Which records a sealed batch holds, and in what order: a function of Kafka alone.

A batch is every record below a frontier (per partition, the next offset not taken) and
above the previous one. Inside a batch, partitions are merged by (record timestamp, topic,
partition, offset) while each partition keeps its own order. Both inputs are facts of the
topics, so a rebuild that cuts at the frontiers the checkpoints published appends the same
entries in the same order, and reaches the same roots.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiokafka.structs import ConsumerRecord

from salur_audit.kafka_io import frontier_key

Frontier = dict[str, int]


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, record: ConsumerRecord) -> Record:
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp=record.timestamp,
            key=record.key,
            value=record.value,
            headers=tuple(record.headers),
        )

    @property
    def where(self) -> str:
        return frontier_key(self.topic, self.partition)


def merged(partitions: Iterable[list[Record]]) -> list[Record]:
    """One deterministic order that keeps every partition's own order."""
    return list(
        heapq.merge(*partitions, key=lambda r: (r.timestamp, r.topic, r.partition, r.offset))
    )


class Buffer:
    """Records read but not yet sealed, per partition."""

    def __init__(self, frontier: Mapping[str, int]) -> None:
        self.frontier: Frontier = dict(frontier)
        self._pending: dict[str, deque[Record]] = defaultdict(deque)

    def add(self, records: Iterable[Record]) -> None:
        for record in records:
            if record.offset >= self.frontier.get(record.where, 0):
                self._pending[record.where].append(record)

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._pending.values())

    def take(self, target: Mapping[str, int] | None = None) -> tuple[list[Record], Frontier]:
        """The next batch (below `target`, or all buffered) and the frontier after it."""
        taken: list[list[Record]] = []
        frontier = dict(self.frontier)
        for where, queue in sorted(self._pending.items()):
            limit = None if target is None else target.get(where, frontier.get(where, 0))
            part: list[Record] = []
            while queue and (limit is None or queue[0].offset < limit):
                part.append(queue.popleft())
            if part:
                taken.append(part)
                frontier[where] = part[-1].offset + 1
        if target is not None:
            frontier.update({k: max(v, frontier.get(k, 0)) for k, v in target.items()})
        self.frontier = frontier
        return merged(taken), dict(frontier)
