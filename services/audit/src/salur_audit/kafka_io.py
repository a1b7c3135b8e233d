"""Reading whole topics from their first offset to the end seen at the start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition
from salur_kit.kafka import new_consumer

Progress = Callable[[int, int], None]


async def partitions(
    consumer: AIOKafkaConsumer, topics: Sequence[str], *, wait_seconds: float = 10.0
) -> list[TopicPartition]:
    """Every partition of `topics`; a topic just created may take a moment to appear."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        # `topics()` fetches fresh metadata but does not keep it, and partitions_for_topic
        # reads only the kept copy; so read the partitions from the fetched cluster itself.
        cluster = await consumer._client.fetch_all_metadata()
        missing = [t for t in topics if not cluster.partitions_for_topic(t)]
        if not missing:
            break
        if asyncio.get_running_loop().time() > deadline:
            raise LookupError(f"topic(s) {', '.join(missing)} do not exist")
        await asyncio.sleep(0.2)
    return [
        TopicPartition(topic, number)
        for topic in topics
        for number in sorted(cluster.partitions_for_topic(topic))
    ]


def frontier_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


async def read_to_end(
    bootstrap_servers: str,
    topics: Sequence[str],
    *,
    progress: Progress | None = None,
    stall_seconds: float = 60.0,
) -> AsyncIterator[ConsumerRecord]:
    """Every record now on `topics`, each partition in order (partitions interleaved).

    A partition is done when the consumer's position reaches the end seen at the start (not
    when a record at end-1 arrives: the last offset may hold no record a client is given).
    A read that makes no progress for `stall_seconds` fails, naming the partitions left.
    """
    # Earliest as the reset policy too: the reset the fetcher starts on assignment would
    # otherwise race the seek to the beginning, and winning it leaves every partition at
    # its end with nothing read (seen as a verify that compared no record, under load).
    consumer = new_consumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        every = await partitions(consumer, topics)
        starts = await consumer.beginning_offsets(every)
        ends = await consumer.end_offsets(every)
        total = sum(ends[tp] - starts[tp] for tp in every)
        remaining = {tp for tp in every if ends[tp] > starts[tp]}
        # Only partitions holding records are assigned, each placed at its first offset:
        # seek_to_beginning waited for the fetch the assignment had started (half a second
        # at every sequencer start, on an empty checkpoints topic).
        if remaining:
            consumer.assign(sorted(remaining))
            for tp in remaining:
                consumer.seek(tp, starts[tp])
        done = 0
        clock = asyncio.get_running_loop().time
        moved = clock()
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset < ends[tp]:
                        done += 1
                        yield record
            left = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
            if batch or left != remaining:
                moved = clock()
            elif clock() - moved > stall_seconds:
                raise TimeoutError(
                    f"reading {', '.join(sorted(f'{tp.topic}:{tp.partition}' for tp in left))}"
                    f" made no progress for {stall_seconds:.0f}s"
                )
            remaining = left
            if progress is not None:
                progress(done, total)
    finally:
        await consumer.stop()
