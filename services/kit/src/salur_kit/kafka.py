"""Kafka clients configured the one way Salur uses them."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker


def new_producer(bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    """A producer that never loses an acknowledged record and never duplicates on retry."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=30_000,
    )


def new_broker(bootstrap_servers: str, *, client_id: str) -> KafkaBroker:
    """The faststream broker a service's consumers (and dead-letter publishing) run on."""
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
    )
