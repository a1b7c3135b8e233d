"""The raw baselines every figure is divided by, measured in the same run."""

from __future__ import annotations

import time
import uuid

import psycopg
from aiokafka import AIOKafkaProducer

RAW_BODY = '{"name": "BKM", "region_code": "32.73.01.1001"}'


def postgres_single_row_inserts(database_url: str, rows: int = 3000) -> float:
    """Committed single-row inserts per second on one connection (each its own transaction)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw (id uuid PRIMARY KEY, body jsonb NOT NULL)"
        )
        conn.execute("TRUNCATE bench_raw")
        started = time.perf_counter()
        for _ in range(rows):
            conn.execute(
                "INSERT INTO bench_raw (id, body) VALUES (%s, %s)", [uuid.uuid4(), RAW_BODY]
            )
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_raw")
        return rows / elapsed


async def kafka_producer(bootstrap: str, topic: str, messages: int = 30000) -> float:
    """Records per second from a bare aiokafka producer with the safety and batching settings
    of `salur_kit.kafka.new_producer` (acks=all, idempotence, linger 5 ms, 256 KiB batches).

    Records are about the size of a relayed registry event, keyed by one of 1,000 ids.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="salur-bench-raw",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    value = b"x" * 400
    keys = [str(uuid.uuid4()).encode() for _ in range(1000)]
    try:
        for partition in sorted(await producer.partitions_for(topic)):  # leaders, connections
            await producer.send_and_wait(topic, value=value, key=keys[0], partition=partition)
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value=value, key=keys[i % len(keys)])
            for i in range(messages)
        ]
        for future in futures:
            await future
        return messages / (time.perf_counter() - started)
    finally:
        await producer.stop()
