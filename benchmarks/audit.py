"""The audit ledger's bench: append from Kafka, then verify, prove and replay a million entries.

- append: CloudEvents built with the contracts codec are published to a fresh 6-partition
  topic; the service's `Sequencer` (its real Kafka edge and writer) catches up from offset
  zero into a fresh database; entries per second from start to the last entry sealed.
- a million entries are then loaded with COPY (entries, their Merkle nodes and a signed
  checkpoint every 100,000) from realistic partnerships events: one AgreementSigned and
  three TrancheDisbursed per agreement, ids varied in canonical templates, then vacuumed and
  analysed by the owner (unmeasured);
- `verify` of the million (everything recomputed, no Kafka), inclusion proofs at size one
  million on one connection, and the replay of the million from the ledger.
Ratios are to the raw Postgres single-row insert rate measured in the same run.
`SALUR_BENCH_ONLY=audit` runs this step alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from salur_audit import ledger, merkle
from salur_audit.canonical import Entry
from salur_audit.replay import replay_ledger
from salur_audit.sequencer import Sequencer
from salur_audit.signing import Signer, generate
from salur_audit.testing import Story, entries_of, publish, writer_url
from salur_audit.verifier import Checkpoint, verify_inclusion
from salur_audit.verify import verify
from salur_audit.writer import LedgerWriter
from salur_kit.kafka import new_producer

from benchmarks import baselines
from benchmarks.report import Figure
from benchmarks.resources import fresh_database, fresh_topic
from benchmarks.stats import percentile

if TYPE_CHECKING:
    from benchmarks.runner import Bench

APPEND_EVENTS = 30_000
LEDGER_ENTRIES = 1_000_000
CHECKPOINT_EVERY = 100_000
PROOFS = 2_000
TARGET_APPEND = 5_000.0
TARGET_VERIFY_SECONDS = 60.0
TARGET_PROOF_MS = 10.0
TARGET_REPLAY = 20_000.0
_ID = "11111111-1111-4111-8111-111111111111"
_AGREEMENT = "22222222-2222-4222-8222-222222222222"


# -- append from Kafka -------------------------------------------------------------------------


async def append_rate(bench: Bench, database_url: str, signer: Signer) -> float:
    s = bench.settings
    story = Story.of(APPEND_EVENTS // 5 + 1, seed=11).events[:APPEND_EVENTS]
    async with (
        fresh_topic(s.bootstrap, f"{s.topic_prefix}.audit.source", 6) as source,
        fresh_topic(s.bootstrap, f"{s.topic_prefix}.audit.checkpoints", 1) as checkpoints,
        fresh_topic(s.bootstrap, f"{s.topic_prefix}.audit.dlq", 1) as dead,
    ):
        producer = new_producer(s.bootstrap, client_id="salur-bench-audit")
        await producer.start()
        try:
            await publish(producer, source, story)
            url = writer_url(database_url)
            sequencer = Sequencer(
                writer=LedgerWriter(url, signer),
                producer=producer,
                bootstrap_servers=s.bootstrap,
                source_topics=[source],
                checkpoint_topic=checkpoints,
                group=f"bench-audit-{s.run_id}",
                dead_letters=dead,
            )
            stopping = asyncio.Event()
            started, cpu = time.perf_counter(), time.process_time()
            task = asyncio.create_task(sequencer.run(stopping))
            while sequencer.stats.appended < len(story):
                if task.done():
                    task.result()
                    raise RuntimeError("the sequencer stopped early")
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
            stopping.set()
            await task
            await sequencer.writer.close()
        finally:
            await producer.stop()
    bench.report.details["audit_append_cpu_seconds"] = cpu
    return len(story) / elapsed


# -- a million entries by COPY ------------------------------------------------------------------


def _templates() -> list[Entry]:
    """Canonical AgreementSigned + 3 TrancheDisbursed of one agreement, ids as placeholders."""
    events = [
        e for e in Story.of(1, seed=5).events if e.type.endswith(("Signed.v1", "Disbursed.v1"))
    ]
    # Story pays two tranches; a third makes four events per agreement.
    events.append(events[-1])
    templates = []
    for number, entry in enumerate(entries_of(events)):
        text = entry.canonical.decode()
        text = text.replace(entry.event_id, _ID).replace(entry.subject, _AGREEMENT)
        if number == 3:
            text = text.replace('"tranche_number":2', '"tranche_number":3')
            text = text.replace('"aggregateversion":"3"', '"aggregateversion":"4"')
        templates.append(
            Entry(
                **{
                    **entry.__dict__,
                    "event_id": _ID,
                    "subject": _AGREEMENT,
                    "canonical": text.encode(),
                }
            )
        )
    return templates


def generated(count: int) -> Iterator[Entry]:
    templates = _templates()
    for n in range(count):
        template = templates[n % 4]
        event_id = str(uuid.UUID(int=(7 << 120) + n))
        agreement = str(uuid.UUID(int=(9 << 120) + n // 4))
        canonical = template.canonical.replace(_ID.encode(), event_id.encode()).replace(
            _AGREEMENT.encode(), agreement.encode()
        )
        yield Entry(
            **{
                **template.__dict__,
                "event_id": event_id,
                "subject": agreement,
                "offset": n,
                "canonical": canonical,
            }
        )


def load_million(url: str, signer: Signer, count: int, progress: Any) -> float:
    started = time.perf_counter()
    compact = merkle.CompactRange()
    nodes: list[tuple[int, int, bytes]] = []
    checkpoints: list[Checkpoint] = []
    with psycopg.connect(url) as conn:
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY audit_entries (seq, source, event_id, type, subject, event_time, topic,"
                ' partition, "offset", canonical) FROM STDIN (FORMAT BINARY)'
            ) as copy,
        ):
            copy.set_types(
                [
                    "int8",
                    "text",
                    "text",
                    "text",
                    "text",
                    "timestamptz",
                    "text",
                    "int4",
                    "int8",
                    "bytea",
                ]
            )
            for seq, entry in enumerate(generated(count)):
                copy.write_row(
                    (
                        seq,
                        entry.source,
                        entry.event_id,
                        entry.type,
                        entry.subject,
                        entry.time,
                        entry.topic,
                        entry.partition,
                        entry.offset,
                        entry.canonical,
                    )
                )
                nodes.extend(compact.append(entry.canonical))
                if compact.size % CHECKPOINT_EVERY == 0 or compact.size == count:
                    checkpoints.append(
                        signer.checkpoint(
                            number=len(checkpoints) + 1,
                            size=compact.size,
                            root=compact.root(),
                            frontier={"t:0": compact.size},
                        )
                    )
                    progress(f"audit: {compact.size:,} entries copied")
        with (
            conn.cursor() as cur,
            cur.copy("COPY audit_nodes (id, hash) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(["int8", "bytea"])
            for level, index, digest in nodes:
                copy.write_row((ledger.node_id(level, index), digest))
        for checkpoint in checkpoints:
            conn.execute(
                "INSERT INTO audit_checkpoints (number, size, root, time, key_id, frontier,"
                " signature) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    checkpoint.number,
                    checkpoint.size,
                    checkpoint.root,
                    checkpoint.time,
                    checkpoint.key_id,
                    json.dumps(dict(checkpoint.frontier)),
                    checkpoint.signature,
                ],
            )
        conn.commit()
    return time.perf_counter() - started


def settle(owner_url: str) -> None:
    """VACUUM (ANALYZE) as the tables' owner (the writer role may not: its ANALYZE was
    skipped), so the figures read a settled table, as a ledger's history is, and no
    autovacuum worker of the fresh million runs under them or blocks the database's drop."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) audit_entries")
        conn.execute("VACUUM (ANALYZE) audit_nodes")


async def verify_seconds(url: str, signer: Signer, details: dict[str, Any]) -> float:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        started, cpu = time.perf_counter(), time.process_time()
        result = await verify(conn, signer.public_key)
        elapsed = time.perf_counter() - started
        details["audit_verify_cpu_seconds"] = time.process_time() - cpu
    if not result.ok or result.size != LEDGER_ENTRIES:
        raise RuntimeError(f"verify of the bench ledger failed: {result.findings[:3]}")
    return elapsed


async def proof_latencies(url: str, size: int) -> list[float]:
    rng = random.Random(20261129)
    latencies = []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        root = await ledger.root(conn, size)
        for n in range(PROOFS):
            index = rng.randrange(size)
            started = time.perf_counter()
            proof = await ledger.inclusion_proof(conn, index, size)
            latencies.append(time.perf_counter() - started)
            if n % 200 == 0:
                leaf = (await ledger.nodes(conn, [(0, index)]))[(0, index)]
                if not verify_inclusion(index, size, leaf, proof, root):
                    raise RuntimeError(f"the proof of entry {index} does not verify")
    return latencies


async def replay_rate(url: str, details: dict[str, Any]) -> float:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        started, cpu = time.perf_counter(), time.process_time()
        report = await replay_ledger(conn, dt.datetime.now(dt.UTC))
        elapsed = time.perf_counter() - started
        details["audit_replay_cpu_seconds"] = time.process_time() - cpu
    if report.events != LEDGER_ENTRIES or report.anomalies:
        raise RuntimeError(f"replay saw {report.events} events, {len(report.anomalies)} anomalies")
    return report.events / elapsed


def _cpu(bench: Bench, key: str, count: int, what: str) -> str:
    """The bench process's own CPU time for the step: on a shared machine (see the load
    average) wall time mostly measures waiting for a core."""
    cpu = bench.report.details.get(key)
    load = os.getloadavg()[0]
    if not cpu:
        return f"load average {load:.1f}"
    return f"{cpu:.1f} s of CPU ({count / cpu:,.0f} {what}/CPU-s), load average {load:.1f}"


def _ratio(value: float | None, baseline: float | None) -> float | None:
    return value / baseline if value and baseline else None


async def run(bench: Bench) -> None:
    s = bench.settings
    with tempfile.TemporaryDirectory(prefix="salur-bench-audit-") as directory:
        signer = generate(Path(directory) / "key.pem")
        with fresh_database(s.admin_url, f"bench_{s.run_id}_audit") as database_url:
            pg = bench.report.details.get("postgres_inserts_per_second")
            if pg is None:
                pg = await bench.step(
                    f"raw Postgres: {s.pg_rows:,} single-row autocommit inserts",
                    lambda: asyncio.to_thread(
                        baselines.postgres_single_row_inserts, database_url, s.pg_rows
                    ),
                )
                bench.report.details["postgres_inserts_per_second"] = pg
            append = await bench.step(
                f"audit: {APPEND_EVENTS:,} CloudEvents from Kafka into the ledger",
                lambda: append_rate(bench, database_url, signer),
            )
            bench.report.add(
                Figure(
                    "audit append from Kafka",
                    append or 0.0,
                    "entries/s",
                    _ratio(append, pg),
                    "raw Postgres single-row inserts/s",
                    f">= {TARGET_APPEND:,.0f}/s",
                    None if append is None else append >= TARGET_APPEND,
                    "Sequencer: consume, canonicalise, hash, COPY, sign a checkpoint per batch; "
                    + _cpu(bench, "audit_append_cpu_seconds", APPEND_EVENTS, "entries"),
                )
            )
        with fresh_database(s.admin_url, f"bench_{s.run_id}_audit_m") as database_url:
            url = writer_url(database_url)
            loaded = await bench.step(
                f"audit: COPY {LEDGER_ENTRIES:,} entries with their Merkle nodes",
                lambda: asyncio.to_thread(
                    load_million, url, signer, LEDGER_ENTRIES, bench.progress
                ),
            )
            if loaded is None:
                return
            await bench.step(
                "audit: VACUUM (ANALYZE) the million as the owner",
                lambda: asyncio.to_thread(settle, database_url),
            )
            bench.report.details["audit_load_seconds"] = loaded
            bench.report.add(
                Figure(
                    "audit bulk load (COPY)",
                    LEDGER_ENTRIES / loaded,
                    "entries/s",
                    _ratio(LEDGER_ENTRIES / loaded, pg),
                    "raw Postgres single-row inserts/s",
                    note="setup for the next three figures",
                )
            )
            seconds = await bench.step(
                f"audit: verify {LEDGER_ENTRIES:,} entries",
                lambda: verify_seconds(url, signer, bench.report.details),
            )
            bench.report.add(
                Figure(
                    f"audit verify of {LEDGER_ENTRIES:,} entries",
                    seconds or 0.0,
                    "s",
                    _ratio(LEDGER_ENTRIES / seconds, pg) if seconds else None,
                    "raw Postgres single-row inserts/s (entries verified/s over it)",
                    f"<= {TARGET_VERIFY_SECONDS:.0f} s",
                    None if seconds is None else seconds <= TARGET_VERIFY_SECONDS,
                    _cpu(bench, "audit_verify_cpu_seconds", LEDGER_ENTRIES, "entries"),
                )
            )
            latencies = await bench.step(
                f"audit: {PROOFS:,} inclusion proofs at size {LEDGER_ENTRIES:,}",
                lambda: proof_latencies(url, LEDGER_ENTRIES),
            )
            if latencies:
                p99 = percentile(latencies, 99) * 1000
                insert_ms = 1000 / pg if pg else None
                bench.report.add(
                    Figure(
                        "audit inclusion proof p99 at 1M entries",
                        p99,
                        "ms",
                        _ratio(p99, insert_ms),
                        "one raw Postgres single-row insert (ms)",
                        f"<= {TARGET_PROOF_MS:.0f} ms",
                        p99 <= TARGET_PROOF_MS,
                        f"p50 {percentile(latencies, 50) * 1000:.2f} ms,"
                        f" max {max(latencies) * 1000:.2f} ms",
                    )
                )
            replay = await bench.step(
                f"audit: replay {LEDGER_ENTRIES:,} entries from the ledger",
                lambda: replay_rate(url, bench.report.details),
            )
            bench.report.add(
                Figure(
                    "audit replay from the ledger",
                    replay or 0.0,
                    "events/s",
                    _ratio(replay, pg),
                    "raw Postgres single-row inserts/s",
                    f">= {TARGET_REPLAY:,.0f}/s",
                    None if replay is None else replay >= TARGET_REPLAY,
                    _cpu(bench, "audit_replay_cpu_seconds", LEDGER_ENTRIES, "events"),
                )
            )
