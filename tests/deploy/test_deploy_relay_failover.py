"""Safe scaling, proven with two replicas of the registry on one database.

Both processes serve HTTP and both run the outbox relay, but a relay publishes only while
it holds the Postgres advisory lock of its log follower. With commands arriving at both
replicas, every event reaches Kafka exactly once (a second active relay would publish each
event twice). Then the lock holder is SIGKILLed in the middle of a stream of commands: the
other replica takes the lock over within seconds and publishes the rest, nothing is lost,
and the only repeats are the killed relay's unacknowledged tail, published again later.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from deploy_processes import pod_timing
from salur_kit.auth import Role
from salur_kit.devtokens import DevIssuer, ensure_issuer
from salur_kit.eventstore import postgres_env
from salur_kit.testing.ports import free_port
from salur_registry.application import RegistryApplication

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

TOPIC = "salur.registry.events.v1"
# The holder of the relay's lock, named as each process introduces itself to Postgres.
LOCK_HOLDER = """
SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = (hashtext('salur-follower')::bigint & 4294967295)::oid
  AND l.objid = (hashtext('relay')::bigint & 4294967295)::oid
"""
FAILOVER_LIMIT_SECONDS = 5.0


GRACE_SECONDS, PRE_STOP_SECONDS = pod_timing("registry")


@dataclass
class Replica:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_replica(
    name: str, database_url: str, bootstrap: str, issuer: DevIssuer, tmp_path: Path
) -> Replica:
    port = free_port()
    env = os.environ | {
        "SALUR_SERVICE": "registry",
        "SALUR_ENV": "development",
        "HTTP_PORT": str(port),
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SALUR_JWKS_PATH": str(issuer.jwks_path),
        "PGAPPNAME": name,  # libpq: every connection of this process carries its name
    }
    log = tmp_path / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "salur_registry"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return Replica(name=name, url=f"http://127.0.0.1:{port}", process=process, log=log)


def wait_ready(replica: Replica) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert replica.process.poll() is None, replica.log.read_text()
        try:
            if httpx.get(f"{replica.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{replica.name} never became ready:\n{replica.log.read_text()}")


@pytest.fixture
def replicas(
    fresh_database_url: str, kafka_bootstrap_servers: str, tmp_path: Path
) -> Iterator[tuple[Replica, Replica]]:
    issuer = ensure_issuer(tmp_path / "issuer")
    pair = [
        start_replica(name, fresh_database_url, kafka_bootstrap_servers, issuer, tmp_path)
        for name in ("replica-a", "replica-b")
    ]
    try:
        for replica in pair:
            wait_ready(replica)
        yield pair[0], pair[1]
    finally:
        for replica in pair:
            if replica.process.poll() is None:
                replica.process.send_signal(signal.SIGTERM)
        for replica in pair:
            try:
                replica.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                replica.process.kill()


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    token = ensure_issuer(tmp_path / "issuer").token(
        role=Role.facilitator, subject="fac", region="32.73"
    )
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends them, so a POST
    # never goes out on a connection the server is closing.
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
        limits=httpx.Limits(max_connections=50, keepalive_expiry=1),
    ) as http:
        yield http


async def register(http: httpx.AsyncClient, replica: Replica, n: int) -> str:
    response = await http.post(
        f"{replica.url}/bkms",
        json={
            "name": f"BKM Replika {n}",
            "region_code": f"32.73.01.{1000 + n % 9000:04d}",
            "address": "Jl. Asia Afrika 1",
            "legal_deed_number": f"AHU-{uuid.uuid4().hex[:12]}",
            "founded_on": "2012-03-04",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["bkm_id"])


def lock_holder(database_url: str) -> str | None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(LOCK_HOLDER).fetchall()
    assert len(rows) <= 1
    return str(rows[0][0]) if rows else None


def relayed_position(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT position FROM follower_positions WHERE name = 'relay'")
        return int((row.fetchone() or (0,))[0])


def stored(database_url: str) -> dict[tuple[str, int], int]:
    """(aggregate id, version) -> notification id of every stored event."""
    app = RegistryApplication(postgres_env(database_url))
    try:
        return {
            (str(n.originator_id), n.originator_version): n.id
            for n in app.recorder.select_notifications(1, 1_000_000)
        }
    finally:
        app.close()


async def wait_until_relayed(database_url: str) -> None:
    """Until the relay's recorded position covers every stored event (30 s at most)."""
    deadline = time.monotonic() + 30
    while not relayed_everything(database_url):
        assert time.monotonic() < deadline, "the relay did not catch up"
        await asyncio.sleep(0.05)


def relayed_everything(database_url: str) -> bool:
    newest = max(stored(database_url).values(), default=0)
    return bool(newest) and relayed_position(database_url) >= newest


async def end_offsets(bootstrap: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(TOPIC, bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC) or []]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def published_since(
    bootstrap: str, start: dict[TopicPartition, int], subjects: set[str]
) -> list[tuple[str, int]]:
    """(subject, version) of every record of ours after `start`, in partition order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[tuple[str, int]] = []
    try:
        consumer.assign(list(start))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        # Until the topic has been quiet for two seconds: a repeat comes after the rest.
        while batch := await consumer.getmany(timeout_ms=2000):
            for messages in batch.values():
                for m in messages:
                    headers = {k: v.decode() for k, v in m.headers}
                    if headers["ce_subject"] in subjects:
                        records.append((headers["ce_subject"], int(headers["ce_aggregateversion"])))
    finally:
        await consumer.stop()
    return records


async def test_two_replicas_publish_each_event_once_and_fail_over_within_seconds(
    replicas: tuple[Replica, Replica],
    client: httpx.AsyncClient,
    fresh_database_url: str,
    kafka_bootstrap_servers: str,
) -> None:
    db, bootstrap = fresh_database_url, kafka_bootstrap_servers
    start = await end_offsets(bootstrap)
    subjects: set[str] = set()

    # Both replicas take commands; exactly one relay holds the lock and publishes.
    both = [replicas[i % 2] for i in range(120)]
    for chunk in range(0, len(both), 20):
        ids = await asyncio.gather(
            *(register(client, r, chunk + i) for i, r in enumerate(both[chunk : chunk + 20]))
        )
        subjects |= set(ids)
    await wait_until_relayed(db)
    holder_name = await asyncio.to_thread(lock_holder, db)
    assert holder_name in {"replica-a", "replica-b"}
    holder, survivor = replicas if holder_name == "replica-a" else replicas[::-1]
    first = await published_since(bootstrap, start, subjects)
    assert sorted(first) == sorted(stored(db)), "with two replicas up, each event once"

    # A stream of commands to the survivor; the holder is killed in the middle of it.
    stream = asyncio.gather(*(register(client, survivor, 1000 + i) for i in range(150)))
    for _ in range(1000):  # until the stream is well under way
        if len(stored(db)) >= 120 + 40:
            break
        await asyncio.sleep(0.01)
    holder.process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    holder.process.wait(timeout=10)
    last_recorded_by_holder = relayed_position(db)
    while (await asyncio.to_thread(lock_holder, db)) != survivor.name:
        assert time.monotonic() - killed_at < 30, "the survivor never took the lock"
        await asyncio.sleep(0.02)
    takeover = time.monotonic() - killed_at
    subjects |= set(await stream)
    writes_ended = time.monotonic() - killed_at
    await wait_until_relayed(db)
    all_published = time.monotonic() - killed_at

    events = stored(db)
    records = await published_since(bootstrap, start, subjects)
    counts = Counter(records)
    assert set(counts) == set(events), "every stored event reached Kafka"
    repeated = {event for event, n in counts.items() if n > 1}
    assert all(counts[e] == 2 for e in repeated)
    # Repeats are only what the killed relay produced but never recorded as acknowledged;
    # the survivor published them again after taking over, never alongside it.
    assert all(events[e] > last_recorded_by_holder for e in repeated)
    assert len(repeated) <= 1000, "at most one batch of the killed relay"
    assert takeover < FAILOVER_LIMIT_SECONDS

    # Kubernetes stops a pod with SIGTERM and kills it after the grace period.
    survivor.process.send_signal(signal.SIGTERM)
    terminated_at = time.monotonic()
    exit_code = await asyncio.to_thread(survivor.process.wait, GRACE_SECONDS)
    shutdown = time.monotonic() - terminated_at
    assert exit_code in (0, -signal.SIGTERM)
    assert shutdown < GRACE_SECONDS - PRE_STOP_SECONDS
    assert "background loop failed" not in survivor.log.read_text()
    assert relayed_position(db) == max(events.values()), "position recorded before exit"
    print(
        f"shutdown: the survivor exited {shutdown:.2f}s after SIGTERM "
        f"(grace period {GRACE_SECONDS}s, of which {PRE_STOP_SECONDS}s preStop)"
    )
    print(
        f"relay failover: lock taken over {takeover:.2f}s after SIGKILL; "
        f"the last command {writes_ended:.2f}s after it; "
        f"all {len(events)} events on Kafka {all_published:.2f}s after it; "
        f"{len(repeated)} re-published from the killed relay's unrecorded tail"
    )
