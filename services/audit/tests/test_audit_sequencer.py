"""The ledger fed from real Kafka topics into real Postgres: every event once, poison
dead-lettered, relay repeats ignored, and a rebuild from the topics reaching the same roots."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from salur_audit import ledger
from salur_audit.sequencer import Sequencer
from salur_audit.signing import Signer, generate
from salur_audit.testing import (
    Story,
    chunks,
    create_topics,
    delete_topics,
    publish,
    unique_names,
    writer_url,
)
from salur_audit.verify import verify
from salur_audit.writer import LedgerWriter
from salur_kit.kafka import new_producer
from salur_kit.testing.databases import scratch_database

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture
async def topics(kafka_bootstrap_servers: str) -> AsyncIterator[tuple[list[str], str]]:
    """Two source topics (the last name is the dead-letter topic) and a checkpoint topic."""
    sources = unique_names(3)
    checkpoints = unique_names(1, "test.audit.checkpoints")[0]
    await create_topics(kafka_bootstrap_servers, sources, partitions=3)
    await create_topics(kafka_bootstrap_servers, [checkpoints], partitions=1)
    yield sources, checkpoints
    with contextlib.suppress(Exception):
        await delete_topics(kafka_bootstrap_servers, [*sources, checkpoints])


@pytest.fixture
async def producer(kafka_bootstrap_servers: str) -> AsyncIterator[AIOKafkaProducer]:
    made = new_producer(kafka_bootstrap_servers, client_id="audit-test")
    await made.start()
    yield made
    await made.stop()


@contextlib.asynccontextmanager
async def running(
    bootstrap: str,
    url: str,
    signer: Signer,
    topics: tuple[list[str], str],
    producer: AIOKafkaProducer,
) -> AsyncIterator[Sequencer]:
    sequencer = Sequencer(
        writer=LedgerWriter(url, signer),
        producer=producer,
        bootstrap_servers=bootstrap,
        source_topics=topics[0][:2],
        dead_letters=topics[0][2],
        checkpoint_topic=topics[1],
        group=f"audit-test-{topics[1][-6:]}",
        seal_interval_seconds=0.05,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(sequencer.run(stopping))
    sequencer.task = task  # type: ignore[attr-defined]  # lets waits fail fast on a crash
    try:
        yield sequencer
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)
        await sequencer.writer.close()


async def _until(condition: Callable[[], object], seconds: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():  # type: ignore[misc]
        for task in asyncio.all_tasks():
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def _size(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await ledger.size(conn)


async def test_every_event_of_every_topic_lands_once_and_a_rebuild_reaches_the_same_roots(
    kafka_bootstrap_servers: str,
    postgres_admin_url: str,
    topics: tuple[list[str], str],
    producer: AIOKafkaProducer,
    tmp_path: Path,
) -> None:
    signer = generate(tmp_path / "key.pem")
    story = Story.of(30, seed=3).events
    opportunities = [e for e in story if e.source.endswith("opportunities")]
    partnerships = [e for e in story if e.source.endswith("partnerships")]
    # Act 1: the live ledger follows the topics while they are written, in waves.
    with scratch_database(postgres_admin_url) as first_db:
        first = writer_url(first_db)
        async with running(kafka_bootstrap_servers, first, signer, topics, producer) as live:
            await asyncio.wait_for(live.caught_up.wait(), 30)
            await publish(producer, topics[0][1], opportunities)
            for wave in chunks(partnerships, 37):
                await publish(producer, topics[0][0], wave)
                await asyncio.sleep(0.4)
            # A relay repeating its tail, and a record that is no CloudEvent at all.
            await publish(producer, topics[0][0], partnerships[-20:])
            await producer.send_and_wait(topics[0][0], b"{not json", key=b"x")
            await _until(lambda: _ledger_has(first, len(story)))
            await _until(lambda: _settled(live, 21))
            assert live.stats.dead_lettered == 1
            assert live.stats.checkpoints > 3, "several batches, so the order across them matters"
        async with await psycopg.AsyncConnection.connect(first, autocommit=True) as conn:
            assert await ledger.size(conn) == len(story)
            original = await ledger.checkpoints(conn)
            result = await verify(
                conn,
                signer.public_key,
                kafka=kafka_bootstrap_servers,
                topics=topics[0][:2],
                checkpoint_topic=topics[1],
            )
            assert result.ok, result.findings
            assert result.kafka_records == len(story) + 21

        # Act 2: the ledger dropped, the topics re-consumed from zero.
        with scratch_database(postgres_admin_url) as second_db:
            second = writer_url(second_db)
            async with running(
                kafka_bootstrap_servers, second, signer, topics, producer
            ) as rebuild:
                await _until(lambda: _reached(second, original[-1].number))
                assert rebuild.stats.adopted == len(original)
            async with await psycopg.AsyncConnection.connect(second, autocommit=True) as conn:
                rebuilt = await ledger.checkpoints(conn)
                assert [(c.size, c.root) for c in rebuilt[: len(original)]] == [
                    (c.size, c.root) for c in original
                ]
                assert await ledger.root(conn, len(story)) == original[-1].root

        # Act 3: an entry taken out of the first ledger is missing against its topic.
        with psycopg.connect(first_db, autocommit=True) as owner:
            owner.execute("ALTER TABLE audit_entries DISABLE TRIGGER USER")
            gone = owner.execute(
                'DELETE FROM audit_entries WHERE seq = 10 RETURNING topic, partition, "offset"'
            ).fetchone()
        assert gone is not None
        async with await psycopg.AsyncConnection.connect(first, autocommit=True) as conn:
            result = await verify(
                conn,
                signer.public_key,
                kafka=kafka_bootstrap_servers,
                topics=topics[0][:2],
                checkpoint_topic=topics[1],
            )
        findings = {(f.kind, f.where) for f in result.findings}
        assert ("missing-from-ledger", f"{gone[0]}:{gone[1]}@{gone[2]}") in findings
        assert ("missing-entry", "entries 10..10") in findings


async def _ledger_has(url: str, count: int) -> bool:
    return await _size(url) >= count


async def _settled(sequencer: Sequencer, repeats: int) -> bool:
    return sequencer.stats.duplicates >= repeats - 1 and sequencer.stats.dead_lettered >= 1


async def _reached(url: str, number: int) -> bool:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        latest = await ledger.latest_checkpoint(conn)
    return latest is not None and latest.number >= number
