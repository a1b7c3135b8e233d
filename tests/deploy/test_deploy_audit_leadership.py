"""Audit's replicas: exactly one runs the ledger's sequencer at a time (salur_audit.leader).

Two replicas contend for the sequencer's advisory lock on one database, each with its own
connection, as two pods of the audit Deployment do. The waiting one takes over within
seconds when the leader stops (SIGTERM) or its connection dies (a killed pod).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from deploy_processes import pod_timing
from salur_audit import ledger
from salur_audit.leader import LeadershipLostError, while_leader
from salur_audit.signing import generate
from salur_audit.testing import Story, create_topics, delete_topics, publish, unique_names
from salur_kit.devtokens import ensure_issuer
from salur_kit.kafka import new_producer
from salur_kit.testing.ports import free_port

pytestmark = pytest.mark.integration


CHECK_SECONDS = 0.2
HOLDER_PID = """
SELECT l.pid FROM pg_locks l
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = (hashtext('salur-audit')::bigint & 4294967295)::oid
  AND l.objid = (hashtext('sequencer')::bigint & 4294967295)::oid
"""


@dataclass
class Sequencers:
    """What the replicas' stand-in sequencers did: who ran, and never two at once."""

    running: set[str] = field(default_factory=set)
    most_at_once: int = 0
    started: dict[str, float] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)

    def for_replica(self, name: str) -> Replica:
        async def run(stopping: asyncio.Event) -> None:
            self.running.add(name)
            self.most_at_once = max(self.most_at_once, len(self.running))
            self.started[name] = time.monotonic()
            try:
                await stopping.wait()
            finally:
                self.running.discard(name)
                self.ended[name] = time.monotonic()

        return Replica(name=name, run=run)


@dataclass
class Replica:
    name: str
    run: object
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


@pytest.fixture
async def two_replicas(fresh_database_url: str) -> AsyncIterator[tuple[Sequencers, list[Replica]]]:
    sequencers = Sequencers()
    replicas = [sequencers.for_replica(name) for name in ("audit-a", "audit-b")]
    for replica in replicas:
        replica.task = asyncio.create_task(
            while_leader(
                fresh_database_url,
                replica.stopping,
                replica.run,  # type: ignore[arg-type]
                check_seconds=CHECK_SECONDS,
            )
        )
    try:
        yield sequencers, replicas
    finally:
        for replica in replicas:
            replica.stopping.set()
        await asyncio.gather(*(r.task for r in replicas if r.task), return_exceptions=True)


async def until(condition: object, seconds: float = 10.0) -> float:
    """Seconds until `condition()` holds (fails after `seconds`)."""
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < seconds, "condition never held"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_one_of_two_audit_replicas_sequences_and_the_other_takes_over_when_it_stops(
    two_replicas: tuple[Sequencers, list[Replica]],
) -> None:
    sequencers, replicas = two_replicas
    await until(lambda: sequencers.running)
    await asyncio.sleep(1.0)  # the other has retried several times meanwhile
    (leader_name,) = sequencers.running
    leader, other = sorted(replicas, key=lambda r: r.name != leader_name)

    leader.stopping.set()  # SIGTERM: the leader's sequencer settles, its connection closes
    assert leader.task is not None
    await asyncio.wait_for(leader.task, 5)
    takeover = await until(lambda: other.name in sequencers.running, 5)
    assert sequencers.most_at_once == 1
    assert sequencers.started[other.name] >= sequencers.ended[leader.name]
    print(f"audit sequencer: taken over {takeover:.2f}s after the leader stopped")


async def test_a_leader_whose_connection_dies_stops_sequencing_and_the_other_takes_over(
    two_replicas: tuple[Sequencers, list[Replica]], fresh_database_url: str
) -> None:
    sequencers, replicas = two_replicas
    await until(lambda: sequencers.running)
    (leader_name,) = sequencers.running
    leader, other = sorted(replicas, key=lambda r: r.name != leader_name)

    # A pod that vanishes: Postgres ends its session, and the lock goes with it.
    async with await psycopg.AsyncConnection.connect(fresh_database_url, autocommit=True) as db:
        (pid,) = await (await db.execute(HOLDER_PID)).fetchone() or (None,)
        assert pid is not None
        await db.execute("SELECT pg_terminate_backend(%s)", [pid])
    killed = time.monotonic()
    assert leader.task is not None
    with pytest.raises(LeadershipLostError):
        await asyncio.wait_for(leader.task, 10)
    takeover = await until(lambda: other.name in sequencers.running, 5)
    assert leader.name not in sequencers.running, "the old leader's sequencer was stopped"
    # The new leader may start before the old one notices its loss: never for longer than
    # the old one's connection check (the ledger's per-append lock covers that moment).
    overlap = sequencers.ended[leader.name] - sequencers.started[other.name]
    assert overlap < CHECK_SECONDS + 1.0
    print(
        f"audit sequencer: taken over {takeover:.2f}s after its holder's session was killed; "
        f"the old one stopped {sequencers.ended[leader.name] - killed:.2f}s after it"
    )


# --- two audit processes --------------------------------------------------------------

HOLDER_NAME = """
SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = (hashtext('salur-audit')::bigint & 4294967295)::oid
  AND l.objid = (hashtext('sequencer')::bigint & 4294967295)::oid
"""


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    url: str
    log: Path


@pytest.fixture
async def audit_topics(kafka_bootstrap_servers: str) -> AsyncIterator[tuple[str, str]]:
    (source,) = unique_names(1)
    (checkpoints,) = unique_names(1, "test.audit.checkpoints")
    await create_topics(kafka_bootstrap_servers, [source], partitions=3)
    await create_topics(kafka_bootstrap_servers, [checkpoints], partitions=1)
    yield source, checkpoints
    with contextlib.suppress(Exception):
        await delete_topics(kafka_bootstrap_servers, [source, checkpoints])


@pytest.fixture
def audit_pair(
    fresh_database_url: str,
    kafka_bootstrap_servers: str,
    audit_topics: tuple[str, str],
    tmp_path: Path,
) -> Iterator[list[Process]]:
    key = tmp_path / "signing-key.pem"
    generate(key)
    issuer = ensure_issuer(tmp_path / "issuer")
    common = os.environ | {
        "SALUR_SERVICE": "audit",
        "SALUR_ENV": "development",
        "DATABASE_URL": fresh_database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "SALUR_JWKS_PATH": str(issuer.jwks_path),
        "SALUR_AUDIT_SIGNING_KEY": str(key),
        "SALUR_AUDIT_SOURCE_TOPICS": json.dumps([audit_topics[0]]),
        "SALUR_AUDIT_CHECKPOINT_TOPIC": audit_topics[1],
        "SALUR_CONSUMER_GROUP_PREFIX": f"{audit_topics[1]}-",
        "SALUR_AUDIT_SEAL_SECONDS": "0.1",
    }
    pair = []
    for name in ("audit-a", "audit-b"):  # started together, as a Deployment's pods are
        port, log = free_port(), tmp_path / f"{name}.log"
        env = common | {"HTTP_PORT": str(port), "PGAPPNAME": name}
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "salur_audit"], env=env, stdout=out, stderr=out
            )
        pair.append(Process(name, popen, f"http://127.0.0.1:{port}", log))
    try:
        for process in pair:
            wait_ready(process)
        yield pair
    finally:
        for process in pair:
            if process.popen.poll() is None:
                process.popen.kill()
            process.popen.wait(timeout=30)


def wait_ready(process: Process) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.popen.poll() is None, process.log.read_text()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{process.url}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"{process.name} never became ready:\n{process.log.read_text()}")


async def holder(database_url: str) -> str | None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        rows = await (await conn.execute(HOLDER_NAME)).fetchall()
    assert len(rows) <= 1
    return str(rows[0][0]) if rows else None


async def ledger_size(database_url: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        return await ledger.size(conn)


async def wait_for(check: Callable[[], Awaitable[bool]], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.1)


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_two_audit_processes_keep_one_ledger_and_the_standby_takes_over_a_killed_one(
    audit_pair: list[Process],
    fresh_database_url: str,
    kafka_bootstrap_servers: str,
    audit_topics: tuple[str, str],
) -> None:
    db, (source, _) = fresh_database_url, audit_topics
    story = Story.of(24, seed=9).events
    half = len(story) // 2
    producer = new_producer(kafka_bootstrap_servers, client_id="audit-replicas-test")
    await producer.start()
    try:
        await wait_for(lambda: _is_led(db))
        leader_name = await holder(db)
        leader, standby = sorted(audit_pair, key=lambda p: p.name != leader_name)
        await publish(producer, source, story[:half])
        await wait_for(lambda: _has(db, half))

        leader.popen.send_signal(signal.SIGKILL)  # a pod that dies
        killed = time.monotonic()
        await asyncio.to_thread(leader.popen.wait, 10)
        while await holder(db) != standby.name:
            assert time.monotonic() - killed < 10, "the standby never took over"
            await asyncio.sleep(0.05)
        takeover = time.monotonic() - killed
        await publish(producer, source, story[half:])
        await wait_for(lambda: _has(db, len(story)))
    finally:
        await producer.stop()
    await asyncio.sleep(1.0)  # anything sealed twice would show now
    assert await ledger_size(db) == len(story), "every event in the ledger once"
    assert takeover < 5.0
    for process in audit_pair:
        assert "written by another writer" not in process.log.read_text(), process.name

    grace, pre_stop = pod_timing("audit")
    standby.popen.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    code = await asyncio.to_thread(standby.popen.wait, grace)
    shutdown = time.monotonic() - stopped
    assert code in (0, -signal.SIGTERM)
    assert shutdown < grace - pre_stop
    assert "background loop failed" not in standby.log.read_text()
    print(
        f"audit replicas: sequencer taken over {takeover:.2f}s after SIGKILL of the leader; "
        f"the survivor exited {shutdown:.2f}s after SIGTERM"
    )


async def _is_led(database_url: str) -> bool:
    return await holder(database_url) is not None


async def _has(database_url: str, count: int) -> bool:
    return await ledger_size(database_url) >= count
