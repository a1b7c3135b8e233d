"""The raw baselines every figure is divided by, measured in the same run."""

from __future__ import annotations

import time
import uuid

import psycopg
from aiokafka import AIOKafkaProducer


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
                "INSERT INTO bench_raw (id, body) VALUES (%s, %s)",
                [uuid.uuid4(), '{"name": "BKM", "region_code": "32.73.01.1001"}'],
            )
        return rows / (time.perf_counter() - started)


async def kafka_producer(bootstrap: str, topic: str, messages: int = 30000) -> float:
    """Records per second from a bare aiokafka producer with the same safety settings."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    value = b"x" * 400
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value=value, key=str(i % 1000).encode())
            for i in range(messages)
        ]
        for future in futures:
            await future
        return messages / (time.perf_counter() - started)
    finally:
        await producer.stop()
