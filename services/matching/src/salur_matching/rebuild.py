"""Rebuild matching's state from the topics, from offset zero, into a fresh database.

    uv run python -m salur_matching.rebuild --database-url postgresql://.../salur_matching_new

A plain aiokafka consumer (no group) reads every partition of the input topics from its
beginning to the end offset seen at the start, thousands of records per fetch; each event
changes the facts in memory only, and the eligible pairs are decided once at the end. The
result is written in a few large transactions (COPY): facts, matches, and the next offset
of every partition read.

Order: each partition is read in order, so each aggregate's events are applied in order
(the Kafka key is the aggregate id); partitions and topics interleave as the fetches come.
That is enough because a fact is "the latest event of its aggregate" and the standing
matches are a function of the facts alone (see `engine`; a property test applies the same
events in random interleavings and checks the result never changes).

Matching's own topic (`salur.matching.events.v1`) is read too: it says which version of
each match was last published and whether it stands. Where the rebuilt decision differs
(or a pair was never published), the rebuild stores the next match event, so the relay
publishes only the corrections and every version continues the published history.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import multiprocessing
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import psycopg
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter
from salur_contracts import matching
from salur_contracts.base import CATALOGUE, IntegrationEvent
from salur_contracts.cloudevents import (
    REQUIRED_HEADERS,
    MalformedEventError,
    UnknownEventTypeError,
    decode,
)
from salur_kit.eventstore import postgres_env
from salur_kit.kafka import new_consumer

from salur_matching.application import MatchingApplication
from salur_matching.bootstrap import INPUT_TOPICS
from salur_matching.domain import event_for
from salur_matching.engine import (
    APPLIED,
    Engine,
    Fact,
    Proposal,
    Transition,
    Withdrawal,
    withdrawal_reason,
)
from salur_matching.store import match_params

OWN_TOPIC = matching.MatchProposed.topic()
_OWN_TYPES = {
    matching.MatchProposed.event_type().encode(),
    matching.MatchWithdrawn.event_type().encode(),
}
FETCH_RECORDS = 5000


@dataclass
class Published:
    """The last published version of each match (odd: it stands)."""

    versions: dict[tuple[UUID, UUID], int] = field(default_factory=dict)

    def take(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Note one of matching's own records; False if it is not one we can read.

        Only the pair and the version matter here, and no consumer acts on these records
        (they are our own output), so they are read without validating the whole event.
        """
        try:
            text = dict(record.headers)
            if text.get("ce_type") not in _OWN_TYPES or record.value is None:
                return False
            pair = _pair_of(record.value)
            version = int(text["ce_aggregateversion"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return False
        if version > self.versions.get(pair, 0):
            self.versions[pair] = version
        return True


# How matching's own producer lays out the start of every match event (pydantic writes the
# fields in declaration order, compactly): the two ids are sliced out of it instead of parsing
# all 1.5 kB of the event, which was a fifth of the rebuild's time. `[0-9a-f-]` cannot hold a
# quote or a backslash, so each id is the whole value of a top-level key; any other layout is
# parsed as JSON.
_LAYOUT = re.compile(
    rb'\{"match_id":"[0-9a-f-]{36}","activity_id":"([0-9a-f-]{36})","plan_id":"[0-9a-f-]{36}",'
    rb'"bkm_id":"[0-9a-f-]{36}","opportunity_id":"([0-9a-f-]{36})",'
)


def _pair_of(value: bytes) -> tuple[UUID, UUID]:
    """The activity and opportunity of one of matching's own events (ValueError if none)."""
    found = _LAYOUT.match(value)
    if found is not None and value.endswith(b"}"):
        return UUID(found[1].decode()), UUID(found[2].decode())
    payload = json.loads(value)
    return UUID(payload["activity_id"]), UUID(payload["opportunity_id"])


@contextlib.contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a rebuild builds its state.

    A rebuild allocates millions of long-lived objects (facts, ids, index sets, decoded
    events), so the collector ran thousands of times over an ever larger heap: about a
    quarter of the rebuild's CPU time, for nothing, since what a rebuild throws away holds
    no cycles and reference counting frees it at once. Only the collector is paused; the
    previous setting is restored afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class Rebuilt:
    engine: Engine
    events: int
    skipped: int
    corrections: list[Transition]
    positions: dict[TopicPartition, int]
    read_seconds: float
    decide_seconds: float
    write_seconds: float = 0.0
    cpu_seconds: float = 0.0
    """CPU time of this process (all its threads) over reading, deciding and writing: the
    measure that stays comparable on a machine whose other load changes the wall time."""

    @property
    def seconds(self) -> float:
        return self.read_seconds + self.decide_seconds + self.write_seconds


async def records_from_zero(
    bootstrap: str, topics: Sequence[str], *, fetch_records: int = FETCH_RECORDS
) -> AsyncIterator[tuple[dict[TopicPartition, int], list[ConsumerRecord[bytes, bytes]]]]:
    """Batches of records of every partition, from the beginning to the end seen at start."""
    # Without a group, a subscribed consumer is assigned every partition of its topics.
    consumer = new_consumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = await _assigned(consumer, topics)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        starts: dict[TopicPartition, int] = await consumer.beginning_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        pending = {tp for tp in partitions if starts[tp] < ends[tp]}
        while pending:
            fetched = await consumer.getmany(*pending, timeout_ms=500, max_records=fetch_records)
            batch: list[ConsumerRecord[bytes, bytes]] = []
            for tp, records in fetched.items():
                batch += [r for r in records if r.offset < ends[tp]]
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
            yield ends, batch
        yield ends, []
    finally:
        await consumer.stop()


async def _assigned(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> list[TopicPartition]:
    deadline = time.monotonic() + 30
    while {tp.topic for tp in consumer.assignment()} != set(topics):
        if time.monotonic() > deadline:
            missing = set(topics) - {tp.topic for tp in consumer.assignment()}
            raise RuntimeError(f"no partitions found for {', '.join(sorted(missing))}")
        await asyncio.sleep(0.05)
    return sorted(consumer.assignment())


# The types that change a fact, by their `ce_type` header as it arrives (bytes).
_WANTED = {cls.event_type().encode(): cls for cls in APPLIED}


def fast_decode(record: ConsumerRecord[bytes, bytes]) -> tuple[IntegrationEvent, int] | None:
    """The event and its aggregate version, or None for a type that changes no fact.

    Checks what `cloudevents.decode` checks, but validates the data straight from its JSON
    bytes; anything unusual (unknown fields of a newer producer, odd headers) falls back to
    `decode` itself, so a rebuild accepts and refuses exactly what the live consumer does.
    """
    headers = record.headers
    text = dict(headers)
    # A repeated header or one without a value is refused by `decode`, never here.
    usual = len(text) == len(headers) and None not in text.values()
    event_class = _WANTED.get(text.get("ce_type"))  # type: ignore[arg-type]
    try:
        if event_class is None:
            ce_type = text.get("ce_type") or b""
            if usual and ce_type.decode("utf-8", "replace") in CATALOGUE:
                return None  # a known type matching has no use for: live, it changes nothing
            raise ValueError("unknown type")
        if not usual or text.get("ce_specversion") != b"1.0" or record.value is None:
            raise ValueError("unusual headers")
        if not all(map(text.get, REQUIRED_HEADERS)):
            raise ValueError("missing headers")
        if text.get("content-type", b"application/json") != b"application/json":
            raise ValueError("content type")
        subject = text["ce_subject"]
        if record.key is not None and record.key != subject:
            raise ValueError("key")
        if dt.datetime.fromisoformat(text["ce_time"].decode()).tzinfo is None:
            raise ValueError("time without offset")
        version = text["ce_aggregateversion"]
        if not (version.isascii() and version.isdigit()):
            raise ValueError("version")
        data = event_class.model_validate_json(record.value)
        if data.subject.encode() != subject:
            raise ValueError("subject")
        return data, int(version)
    except (ValueError, KeyError, AttributeError, UnicodeDecodeError):
        envelope = decode(record.key, record.value, record.headers)
        return envelope.data, envelope.aggregate_version


@dataclass
class Read:
    """What reading some topics from offset zero gave."""

    engine: Engine = field(default_factory=Engine)
    published: Published = field(default_factory=Published)
    events: int = 0
    skipped: int = 0
    positions: dict[TopicPartition, int] = field(default_factory=dict)


async def read_topics(bootstrap: str, input_topics: Sequence[str], own_topic: str | None) -> Read:
    """Facts (in memory, undecided) and published versions from the topics."""
    read = Read()
    topics = [*input_topics, *([own_topic] if own_topic else [])]
    if not topics:
        return read
    take, apply = read.published.take, read.engine.apply  # looked up once, not per record
    async for ends, batch in records_from_zero(bootstrap, topics):
        read.positions = dict(ends)
        skipped = 0
        for record in batch:
            if record.topic == own_topic:
                if not take(record):
                    skipped += 1
                continue
            try:
                decoded = fast_decode(record)
            except (MalformedEventError, UnknownEventTypeError):
                skipped += 1  # live, the consumer dead-letters these: no effect either way
                continue
            if decoded is not None:
                apply(*decoded, decide=False)
        read.events += len(batch) - skipped
        read.skipped += skipped
    return read


def _facts_of(bootstrap: str, topics: list[str]) -> tuple[list[Fact], int, int, dict[Any, int]]:
    """A worker process: the facts of some input topics (they share no fact with others)."""
    with without_cycle_collection():
        read = asyncio.run(read_topics(bootstrap, topics, None))
    facts = [fact for _, _, fact in read.engine.fact_rows()]
    return facts, read.events, read.skipped, read.positions


async def rebuild(
    bootstrap: str,
    input_topics: Sequence[str] = INPUT_TOPICS,
    own_topic: str | None = OWN_TOPIC,
    *,
    in_parallel: Sequence[str] = (),
) -> Rebuilt:
    """The facts and matches the topics imply, and the match events still to publish.

    Topics named in `in_parallel` are read by a second process meanwhile: each topic's
    events change facts no other topic's do (activities come only from planning, and so on),
    so the facts of both readers simply add up.
    """
    with without_cycle_collection():
        return await _rebuild(bootstrap, input_topics, own_topic, in_parallel)


async def _rebuild(
    bootstrap: str, input_topics: Sequence[str], own_topic: str | None, in_parallel: Sequence[str]
) -> Rebuilt:
    started, cpu = time.perf_counter(), time.process_time()
    here = [topic for topic in input_topics if topic not in in_parallel]
    there = [topic for topic in input_topics if topic in in_parallel]
    if there:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            worker = asyncio.get_running_loop().run_in_executor(pool, _facts_of, bootstrap, there)
            read = await read_topics(bootstrap, here, own_topic)
            facts, events, skipped, positions = await worker
        read.engine.adopt(facts)
        read.events += events
        read.skipped += skipped
        read.positions.update(positions)
    else:
        read = await read_topics(bootstrap, here, own_topic)
    reading = time.perf_counter() - started
    started = time.perf_counter()
    corrections = decide(read.engine, read.published)
    return Rebuilt(
        engine=read.engine,
        events=read.events,
        skipped=read.skipped,
        corrections=corrections,
        positions=read.positions,
        read_seconds=reading,
        decide_seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu,
    )


def decide(engine: Engine, published: Published) -> list[Transition]:
    """Set every match's version from the published history and the rebuilt decision."""
    eligible = engine.eligible_pairs()
    was = published.versions
    corrections: list[Transition] = []
    versions: list[tuple[UUID, UUID, int]] = []
    for pair in eligible:
        version = was.get(pair, 0)
        if version % 2 == 0:  # eligible, but not standing as published: propose it
            version += 1
            ranked = engine.explain(*pair)[1]
            assert ranked is not None
            corrections.append(
                Proposal(ranked.activity, ranked.opportunity, version, ranked.score, ranked.reasons)
            )
        versions.append((*pair, version))
    for pair, version in was.items():
        if pair in eligible:
            continue  # decided above
        activity = engine.activities.get(pair[0])
        opportunity = engine.opportunities.get(pair[1])
        if activity is None or opportunity is None:
            continue  # published about facts no input topic holds any more: leave it be
        if version % 2 == 1:  # standing as published, no longer eligible: withdraw it
            version += 1
            bkm = engine.bkms.get(activity.bkm_id)
            because, explanation = withdrawal_reason(activity, opportunity, bkm)
            corrections.append(Withdrawal(activity, opportunity, version, because, explanation))
        versions.append((*pair, version))
    engine.load((), versions)
    # Only the corrections are sorted (the events they become keep a stable order).
    return sorted(corrections, key=lambda t: (t.activity.activity_id, t.opportunity.opportunity_id))


def write(database_url: str, rebuilt: Rebuilt) -> None:
    """Store the rebuilt state in an empty database, in three transactions."""
    started, cpu = time.perf_counter(), time.process_time()
    with without_cycle_collection():
        _write(database_url, rebuilt)
    rebuilt.write_seconds = time.perf_counter() - started
    rebuilt.cpu_seconds += time.process_time() - cpu


def _write(database_url: str, rebuilt: Rebuilt) -> None:
    app = MatchingApplication(postgres_env(database_url))
    try:
        if app.engine.activities or app.engine.opportunities or app.engine.versions:
            raise SystemExit(f"{database_url} already holds matching state: rebuild into a new one")
        with psycopg.connect(database_url) as conn:
            with _copy(conn, "COPY matching_fact (kind, id, state) FROM STDIN") as copy:
                for kind, key, fact in rebuilt.engine.fact_rows():
                    copy.write_row((kind, key, json.dumps(fact.row())))
            with _copy(
                conn,
                "COPY matching_match (match_id, activity_id, opportunity_id, version, standing)"
                " FROM STDIN",
            ) as copy:
                for (activity_id, opportunity_id), version in rebuilt.engine.versions.items():
                    copy.write_row(match_params(activity_id, opportunity_id, version))
            with conn.cursor().copy(
                "COPY matching_rebuild (topic, partition, next_offset) FROM STDIN"
            ) as copy:
                for tp, offset in rebuilt.positions.items():
                    copy.write_row((tp.topic, tp.partition, offset))
        stored = [app.mapper.to_stored_event(event_for(t)) for t in rebuilt.corrections]
        for start in range(0, len(stored), 10_000):
            app.recorder.insert_events(stored[start : start + 10_000])
    finally:
        app.close()


def _copy(
    conn: psycopg.Connection[Any], statement: str
) -> contextlib.AbstractContextManager[psycopg.Copy]:
    """A COPY whose data a thread sends while this one formats the next rows, so that the
    server's work (parsing JSON, the primary keys) overlaps ours: ~20% less wall time."""
    cursor = conn.cursor()
    return cursor.copy(statement, writer=QueuedLibpqWriter(cursor))


async def commit_group(bootstrap: str, group: str, positions: dict[TopicPartition, int]) -> None:
    """Let the service's consumer group resume right after what the rebuild read."""
    consumer = new_consumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        inputs = {tp: offset for tp, offset in positions.items() if tp.topic != OWN_TOPIC}
        consumer.assign(list(inputs))
        await consumer.commit(inputs)
    finally:
        await consumer.stop()


def create_database(database_url: str) -> None:
    """CREATE DATABASE through the server's `postgres` database, with the same credentials."""
    parts = urlsplit(database_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(parts.path.lstrip("/"))))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m salur_matching.rebuild", description=__doc__)
    parser.add_argument("--database-url", required=True, help="an empty database to fill")
    parser.add_argument(
        "--create", action="store_true", help="create the database first (it must not exist)"
    )
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    parser.add_argument(
        "--commit-group",
        metavar="GROUP",
        help="also set this consumer group's offsets (e.g. matching, with the service stopped)",
    )
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="read planning's topic (the busiest) in a second process; worth it only with "
        "CPUs to spare (it costs more CPU in all: start-up, facts sent across)",
    )
    args = parser.parse_args(argv)
    if args.create:
        create_database(args.database_url)
    parallel = [INPUT_TOPICS[1]] if args.parallel else []
    rebuilt = asyncio.run(rebuild(args.bootstrap, in_parallel=parallel))
    write(args.database_url, rebuilt)
    if args.commit_group:
        asyncio.run(commit_group(args.bootstrap, args.commit_group, rebuilt.positions))
    rate = rebuilt.events / rebuilt.seconds if rebuilt.seconds else 0.0
    print(
        f"rebuilt from {rebuilt.events} events ({rebuilt.skipped} undecodable skipped) in "
        f"{rebuilt.seconds:.1f}s ({rate:,.0f} events/s): {len(rebuilt.engine.standing())} "
        f"standing matches, {len(rebuilt.corrections)} match events to publish"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
