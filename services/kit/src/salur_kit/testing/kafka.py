"""Kafka helpers for tests on the shared local topics."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    """The current end of every partition of `topics`."""
    # A producer's partitions_for waits for the topic's metadata; every partition counts.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await producer.start()
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(await producer.partitions_for(topic))
        ]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends
    finally:
        await consumer.stop()
        await producer.stop()


async def start_group_at_end(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commit the group's offsets at the topics' current end, so a fresh group reads only
    what a test publishes, not the shared topics' whole history."""
    ends = await end_offsets(bootstrap, topics)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(ends))
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()
