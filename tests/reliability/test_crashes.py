"""Crash tests: kill the relay and the consumer at their most dangerous moments.

Both run as real processes on real Kafka and Postgres and are killed with SIGKILL; the
assertions are about what ends up on the topic and in the database afterwards.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaConsumer
from salur_kit.auth import Principal, Role
from salur_kit.eventstore import postgres_env
from salur_registry.application import RegistryApplication
from workers import TallyApp

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKERS = Path(__file__).with_name("workers.py")
FACILITATOR = Principal(
    subject="fac-1", role=Role.facilitator, organisation_id=None, region_prefix="32.73"
)


def run_worker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(WORKERS), *args], capture_output=True, text=True, timeout=120
    )


def store_registry_events(database_url: str, bkms: int) -> int:
    """Registers and verifies BKMs; returns how many events were stored."""
    app = RegistryApplication(postgres_env(database_url))
    try:
        for i in range(bkms):
            bkm = app.register_bkm(
                FACILITATOR,
                bkm_id=None,
                name=f"BKM {i}",
                region_code=f"32.73.01.{1000 + i % 9000:04d}",
                address="Jl. Merdeka",
                legal_deed_number=f"AHU-{i}",
                founded_on=dt.date(2009, 1, 1),
            )
            app.add_unit(operator_of(bkm.id), bkm.id, "UPK", "Siti", None)
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


def operator_of(bkm_id: UUID) -> Principal:
    return Principal(
        subject="op", role=Role.bkm_operator, organisation_id=bkm_id, region_prefix=None
    )


async def read_topic(bootstrap: str, topic: str) -> list[tuple[str, int, str]]:
    """(subject, version, ce_id) of every record, read by a plain aiokafka consumer."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[tuple[str, int, str]] = []
    try:
        # Until the topic has been quiet for two seconds: duplicates come after the rest.
        while batch := await consumer.getmany(timeout_ms=2000):
            for messages in batch.values():
                for m in messages:
                    headers = {k: v.decode() for k, v in m.headers}
                    subject, version = headers["ce_subject"], int(headers["ce_aggregateversion"])
                    records.append((subject, version, headers["ce_id"]))
    finally:
        await consumer.stop()
    return records


async def test_a_relay_killed_between_producing_and_saving_its_position_loses_nothing(
    kafka_bootstrap_servers: str, fresh_database_url: str, unique_topic: str
) -> None:
    stored = await asyncio.to_thread(store_registry_events, fresh_database_url, 100)
    common = ["--database-url", fresh_database_url, "--bootstrap", kafka_bootstrap_servers]
    common += ["--topic", unique_topic, "--batch-size", "40"]

    crashed = await asyncio.to_thread(run_worker, "relay", *common, "--crash-at", "3")
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    resumed = await asyncio.to_thread(run_worker, "relay", *common)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    records = await read_topic(kafka_bootstrap_servers, unique_topic)
    distinct = {(subject, version) for subject, version, _ in records}
    assert len(distinct) == stored, "every stored event reached Kafka"
    duplicates = len(records) - len(distinct)
    # The killed batch (40 events) was produced but not recorded, so it is produced again;
    # the relay may already have produced the next batch while waiting for the acks.
    assert 40 <= duplicates <= 80
    ids = Counter(ce_id for _, _, ce_id in records)
    assert all(ids[ce] == 2 for ce in ids if ids[ce] > 1), "a repeat carries the same ce_id"
    print(f"relay crash: {stored} events, {duplicates} duplicates after the crash")


async def test_a_consumer_killed_after_an_effect_applies_no_effect_twice(
    kafka_bootstrap_servers: str, fresh_database_url: str, unique_topic: str
) -> None:
    stored = await asyncio.to_thread(store_registry_events, fresh_database_url, 30)
    relay_args = ["--database-url", fresh_database_url, "--bootstrap", kafka_bootstrap_servers]
    relay_args += ["--topic", unique_topic]
    # Relay twice from zero by crashing once: the topic then holds duplicates too.
    crashed_relay = await asyncio.to_thread(
        run_worker, "relay", *relay_args, "--batch-size", "20", "--crash-at", "2"
    )
    assert crashed_relay.returncode == -9
    assert (await asyncio.to_thread(run_worker, "relay", *relay_args)).returncode == 0

    tally_db = fresh_database_url  # the tally's tables live beside the registry's
    consume = ["--database-url", tally_db, "--bootstrap", kafka_bootstrap_servers]
    consume += ["--topic", unique_topic, "--group", f"g-{uuid4().hex[:8]}", "--idle-seconds", "3"]
    killed = await asyncio.to_thread(run_worker, "consume", *consume, "--crash-at", "25")
    assert killed.returncode == -9, killed.stdout + killed.stderr
    finished = await asyncio.to_thread(run_worker, "consume", *consume)
    assert finished.returncode == 0, finished.stdout + finished.stderr

    app = TallyApp(postgres_env(tally_db))
    registry = RegistryApplication(postgres_env(fresh_database_url))
    try:
        bkm_ids = {n.originator_id for n in registry.recorder.select_notifications(1, stored + 10)}
        tallies = {bkm_id: app.repository.get(bkm_id).count for bkm_id in bkm_ids}
    finally:
        app.close()
        registry.close()
    # Each BKM has two events (registered, unit added): counted exactly twice each.
    assert set(tallies.values()) == {2}
    assert sum(tallies.values()) == stored
    counts = re.search(r"applied (\d+) duplicates (\d+)", finished.stdout)
    assert counts is not None, finished.stdout
    applied, duplicates = int(counts[1]), int(counts[2])
    assert applied < stored, "the first run's effects were kept, not redone"
    assert duplicates >= 1, "the redelivered message was recognised, not re-applied"
    print(f"consumer crash: {stored} events, {applied} applied after restart, {duplicates} repeats")
