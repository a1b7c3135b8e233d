"""Reading the event topics for `salur events tail` (imported only when the command runs:
the Kafka client and the catalogue take a while to import, and other commands need neither).

Reads without a consumer group (partitions assigned directly), so tailing never takes
records from, or moves the offsets of, the services' own groups.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import re
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from salur_contracts.cloudevents import (
    CONTENT_TYPE,
    SPEC_VERSION,
    Envelope,
    MalformedEventError,
    UnknownEventTypeError,
    decode,
)

from salur_kit.kafka import new_consumer
from salur_kit.lag import topic_partitions

EVENT_TOPIC = re.compile(r"^salur\.[a-z0-9_-]+\.events\.v\d+$")


class TopicNotFoundError(LookupError):
    pass


async def tail(args: argparse.Namespace) -> int:
    try:
        consumer = new_consumer(
            bootstrap_servers=args.bootstrap_servers,
            enable_auto_commit=False,
            request_timeout_ms=10_000,
        )
    except ValueError as error:  # KAFKA_SECURITY_* settings that cannot work
        print(f"Kafka client settings: {error}")
        return 1
    try:
        await asyncio.wait_for(consumer.start(), timeout=15)
    except (KafkaError, TimeoutError, OSError) as error:
        print(f"cannot reach Kafka at {args.bootstrap_servers}: {error or type(error).__name__}")
        await consumer.stop()
        return 1
    try:
        try:
            partitions = await _partitions(consumer, args.topic)
        except TopicNotFoundError as error:
            print(error)
            return 1
        consumer.assign(partitions)
        if args.from_beginning:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        return await _print_events(consumer, args)
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> list[TopicPartition]:
    known = await consumer.topics()
    wanted = list(topics) or sorted(t for t in known if EVENT_TOPIC.match(t))
    missing = [t for t in wanted if t not in known]
    if missing:
        raise TopicNotFoundError(f"no such topic: {', '.join(missing)}")
    if not wanted:
        raise TopicNotFoundError("no salur.*.events.v* topics on this cluster")
    return await topic_partitions(consumer, wanted)


async def _print_events(consumer: AIOKafkaConsumer, args: argparse.Namespace) -> int:
    printed = 0
    while args.limit is None or printed < args.limit:
        try:
            record = await asyncio.wait_for(consumer.getone(), timeout=args.idle_timeout)
        except TimeoutError:
            return 0 if args.limit is None else 1
        text = describe(record, args.types, args.format)
        if text is not None:
            print(text, flush=True)
            printed += 1
    return 0


def describe(record: ConsumerRecord[Any, Any], types: Sequence[str], style: str) -> str | None:
    """The record as text, or None when filtered out by --type."""
    try:
        envelope = decode(record.key, record.value, record.headers)
    except (MalformedEventError, UnknownEventTypeError) as error:
        if types:
            return None
        where = f"{record.topic}/{record.partition}@{record.offset}"
        return f"{where}  not a Salur CloudEvent: {error}"
    if types and not any(fnmatch.fnmatchcase(envelope.type, p) for p in types):
        return None
    if style == "json":
        return json.dumps(structured(envelope), ensure_ascii=False)
    return pretty(envelope, record)


def structured(envelope: Envelope) -> dict[str, Any]:
    """The CloudEvents JSON (structured mode) form of an envelope."""
    event: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "subject": envelope.subject,
        "time": envelope.time.isoformat().replace("+00:00", "Z"),
        "dataschema": envelope.dataschema,
        "datacontenttype": CONTENT_TYPE,
        "aggregateversion": envelope.aggregate_version,
    }
    if envelope.traceparent:
        event["traceparent"] = envelope.traceparent
    event["data"] = envelope.data.model_dump(mode="json")
    return event


def pretty(envelope: Envelope, record: ConsumerRecord[Any, Any]) -> str:
    trace_id = envelope.traceparent.split("-")[1] if envelope.traceparent else "-"
    head = (
        f"── {envelope.type}  {envelope.time.isoformat(timespec='milliseconds')}\n"
        f"   subject {envelope.subject}  version {envelope.aggregate_version}  "
        f"trace {trace_id}\n"
        f"   {record.topic}/{record.partition}@{record.offset}  id {envelope.id}"
    )
    data = json.dumps(envelope.data.model_dump(mode="json"), indent=2, ensure_ascii=False)
    return head + "\n" + "\n".join(f"   {line}" for line in data.splitlines())
