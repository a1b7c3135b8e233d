"""Graceful shutdown on SIGTERM: of a consuming service in the middle of a stream of events,
and of an HTTP service in the middle of requests.

Kubernetes stops a pod with SIGTERM and kills it `terminationGracePeriodSeconds` later. A
service that consumes must by then have stopped, with its consumer group's committed
offsets matching what it applied: everything below a committed offset applied (nothing
lost when another replica or the next pod resumes there), and everything it applied below
the committed offset (no applied work left to be redelivered). Planning, consuming the
registry's events, is stopped while BKM registrations are still arriving. The registry is
stopped while registrations are being sent: each request is answered 201 (and its event
stored and published before the exit) or never runs; none fails half-way.
"""

from __future__ import annotations

import asyncio
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from deploy_processes import planning_applied, pod_timing, register_bkm
from salur_kit.auth import Role
from salur_kit.devtokens import ensure_issuer
from salur_kit.eventstore import postgres_env
from salur_kit.testing.kafka import end_offsets
from salur_kit.testing.platform import running_platform
from salur_planning.application import PlanningApplication
from salur_registry.application import RegistryApplication

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

TOPIC = "salur.registry.events.v1"
BKMS = 160
Record = tuple[TopicPartition, int, str, str, int]  # partition, offset, source, subject, version


async def our_records(
    bootstrap: str, start: dict[TopicPartition, int], subjects: set[str]
) -> list[Record]:
    """Where each of our BKMs' events landed on the registry topic."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    found: list[Record] = []
    try:
        consumer.assign(list(start))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        while len(found) < len(subjects) and (batch := await consumer.getmany(timeout_ms=3000)):
            for partition, messages in batch.items():
                for m in messages:
                    headers = {k: v.decode() for k, v in m.headers}
                    if headers["ce_subject"] in subjects:
                        found.append(
                            (
                                partition,
                                m.offset,
                                headers["ce_source"],
                                headers["ce_subject"],
                                int(headers["ce_aggregateversion"]),
                            )
                        )
    finally:
        await consumer.stop()
    return found


async def committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if tp.topic == TOPIC}


def applied(database_url: str, group: str, records: list[Record]) -> set[Record]:
    """Those of `records` planning has applied (their tracking record is stored)."""
    app = PlanningApplication(postgres_env(database_url))
    try:
        return {r for r in records if app.recorder.has_tracking_id(f"{group}:{r[2]}:{r[3]}", r[4])}
    finally:
        app.close()


def test_a_consuming_service_stops_within_the_grace_period_with_its_positions_committed(
    postgres_admin_url: str, kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    bootstrap = kafka_bootstrap_servers
    issuer = ensure_issuer(tmp_path / "issuer")
    token = issuer.token(role=Role.facilitator, subject="fac", region="32.73")
    grace, pre_stop = pod_timing("planning")
    with running_platform(
        postgres_admin_url=postgres_admin_url,
        kafka_bootstrap_servers=bootstrap,
        jwks_path=issuer.jwks_path,
        logs=tmp_path / "logs",
        audit_signing_key=tmp_path / "unused.pem",
        audit_checkpoint_topic="unused",
        database_prefix="shutdown",
        group_prefix="shutdown",
        services=("registry", "planning"),
    ) as platform:
        group = f"{platform.consumer_group_prefix}planning"
        planning = platform.processes["planning"]
        planning_db = platform.database_urls["planning"]
        start = asyncio.run(end_offsets(bootstrap, [TOPIC]))
        with (
            httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=20) as client,
            ThreadPoolExecutor(8) as pool,
        ):
            sending = [
                pool.submit(register_bkm, client, platform.urls["registry"], n) for n in range(BKMS)
            ]
            # SIGTERM once planning is well into the stream, with more still coming.
            subjects: set[str] = set()
            deadline = time.monotonic() + 120
            while True:
                assert time.monotonic() < deadline, "planning never applied a third"
                subjects |= {f.result() for f in sending if f.done()}
                if planning_applied(planning_db, group, subjects) >= BKMS // 3:
                    break
                time.sleep(0.2)
            planning.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            code = planning.wait(timeout=grace)
            shutdown = time.monotonic() - stopped
            subjects = {f.result() for f in sending}
        records = asyncio.run(our_records(bootstrap, start, subjects))
        assert len(records) == BKMS, "every registration reached the topic"
        positions = asyncio.run(committed(bootstrap, group))
        done = applied(planning_db, group, records)
        log = (platform.logs / "planning.log").read_text()

    assert code in (0, -signal.SIGTERM)
    assert shutdown < grace - pre_stop, f"{shutdown:.1f}s"
    assert "background loop failed" not in log
    below = {r for r in records if r[1] < positions.get(r[0], start[r[0]])}
    assert below <= done, "everything below a committed offset was applied"
    assert done <= below, "everything applied was committed before the exit"
    assert 0 < len(done) < BKMS, "stopped in the middle of the stream"
    print(
        f"graceful shutdown: planning exited {shutdown:.2f}s after SIGTERM with "
        f"{len(done)}/{BKMS} of the stream applied and committed"
    )


def register_once(url: str, token: str, n: int) -> str | None:
    """One registration on a connection of its own: the BKM id, or None if the server
    refused the connection or closed it without answering: closed, or reset because the
    request was still unread in the socket when it closed (the request never ran; the test
    checks that by comparing what is stored with what was answered)."""
    try:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            bkm_id: str = register_bkm(client, url, 1000 + n)
    except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
        return None
    return bkm_id


def stored_bkms(database_url: str) -> set[str]:
    app = RegistryApplication(postgres_env(database_url))
    try:
        return {str(n.originator_id) for n in app.recorder.select_notifications(1, 1_000_000)}
    finally:
        app.close()


def test_sigterm_during_requests_finishes_those_accepted_and_publishes_them(
    postgres_admin_url: str, kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    issuer = ensure_issuer(tmp_path / "issuer")
    token = issuer.token(role=Role.facilitator, subject="fac", region="32.73")
    grace, pre_stop = pod_timing("registry")
    with running_platform(
        postgres_admin_url=postgres_admin_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        jwks_path=issuer.jwks_path,
        logs=tmp_path / "logs",
        audit_signing_key=tmp_path / "unused.pem",
        audit_checkpoint_topic="unused",
        database_prefix="shutdown",
        group_prefix="shutdown",
        services=("registry",),
    ) as platform:
        registry, url = platform.processes["registry"], platform.urls["registry"]
        start = asyncio.run(end_offsets(kafka_bootstrap_servers, [TOPIC]))
        with ThreadPoolExecutor(12) as pool, ThreadPoolExecutor(1) as watcher:
            sending = [pool.submit(register_once, url, token, n) for n in range(240)]
            while sum(f.done() for f in sending) < 30:
                time.sleep(0.01)
            # No preStop delay here: requests keep coming after SIGTERM, a harder case
            # than on Kubernetes, where the pod has left the Service's endpoints by then.
            registry.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            exiting = watcher.submit(lambda: (registry.wait(timeout=grace), time.monotonic()))
            # A request either completes (201) or never runs (refused, or its connection
            # closed unanswered); an error response would raise in register_once.
            outcomes = [f.result() for f in sending]
            code, exited = exiting.result()
        shutdown = exited - stopped
        accepted = {bkm for bkm in outcomes if bkm is not None}
        stored = stored_bkms(platform.database_urls["registry"])
        records = asyncio.run(our_records(kafka_bootstrap_servers, start, accepted))
        log = (platform.logs / "registry.log").read_text()

    assert code in (0, -signal.SIGTERM)
    assert shutdown < grace - pre_stop, f"{shutdown:.1f}s"
    assert "background loop failed" not in log
    assert 30 <= len(accepted) < 240, "stopped in the middle of the requests"
    assert stored == accepted, "what was answered 201 is stored, and nothing else"
    assert {r[3] for r in records} == accepted, "every accepted registration was published"
    print(
        f"graceful shutdown: the registry exited {shutdown:.2f}s after SIGTERM; "
        f"{len(accepted)} registrations accepted, all stored and published; "
        f"{240 - len(accepted)} never ran"
    )
