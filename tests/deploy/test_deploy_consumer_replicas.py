"""Safe scaling of consumers: two replicas of a tracked consumer share a topic's partitions
through their consumer group, and together apply each event exactly once.

First the consumer processes of tests/reliability/workers.py (a tally of the events seen
per aggregate, tracked in Postgres) side by side in one group; then two processes of a real
service (planning) on one database, one of them killed half-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from deploy_processes import planning_applied, register_bkm
from salur_kit.auth import Principal, Role
from salur_kit.devtokens import ensure_issuer
from salur_kit.eventstore import postgres_env
from salur_kit.testing.platform import RunningPlatform, running_platform
from salur_kit.testing.ports import free_port
from salur_registry.application import RegistryApplication

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKERS = Path(__file__).resolve().parents[1] / "reliability" / "workers.py"
FACILITATOR = Principal(
    subject="fac-1", role=Role.facilitator, organisation_id=None, region_prefix="32.73"
)
BKMS = 60


def store_events(database_url: str) -> int:
    app = RegistryApplication(postgres_env(database_url))
    try:
        for i in range(BKMS):
            app.register_bkm(
                FACILITATOR,
                bkm_id=None,
                name=f"BKM {i}",
                region_code=f"32.73.02.{1000 + i:04d}",
                address="Jl. Cihampelas",
                legal_deed_number=f"AHU-{i}",
                founded_on=dt.date(2011, 5, 6),
            )
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


def test_two_consumer_replicas_share_the_partitions_and_apply_each_event_once(
    kafka_bootstrap_servers: str, fresh_database_url: str, unique_topic: str
) -> None:
    common = ["--bootstrap", kafka_bootstrap_servers, "--topic", unique_topic]
    group = f"replicas-{uuid4().hex[:8]}"
    consumers = [
        subprocess.Popen(
            [sys.executable, str(WORKERS), "consume", "--database-url", fresh_database_url,
             *common, "--group", group, "--idle-seconds", "12"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]  # fmt: skip
    try:
        # Both join the group (and split the three partitions) before anything is published.
        time.sleep(6)
        stored = store_events(fresh_database_url)
        relay = subprocess.run(
            [sys.executable, str(WORKERS), "relay", "--database-url", fresh_database_url, *common],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert relay.returncode == 0, relay.stdout + relay.stderr
        outputs = [c.communicate(timeout=120) for c in consumers]
    finally:
        for c in consumers:
            if c.poll() is None:
                c.kill()
    applied = []
    for consumer, (out, _) in zip(consumers, outputs, strict=True):
        assert consumer.returncode == 0, out
        found = re.search(r"applied (\d+) duplicates (\d+)", out)
        assert found, out
        applied.append(int(found[1]))
    assert all(n > 0 for n in applied), f"both replicas consumed: {applied}"
    assert sum(applied) == stored, "each event applied once, by one of the two"
    print(f"consumer replicas: {stored} events applied as {applied} by two replicas")


# --- two processes of a real service ----------------------------------------------------

REGISTRY_TOPIC = "salur.registry.events.v1"
PLANNING_BKMS = 90
Process = tuple["subprocess.Popen[bytes]", str]  # the process and its URL


def start_second_planning(platform: RunningPlatform, bootstrap: str, jwks: Path) -> Process:
    """Another replica of the platform's planning: same database, same consumer group."""
    port, log = free_port(), platform.logs / "planning-2.log"
    env = os.environ | {
        "SALUR_SERVICE": "planning",
        "SALUR_ENV": "development",
        "HTTP_PORT": str(port),
        "DATABASE_URL": platform.database_urls["planning"],
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SALUR_JWKS_PATH": str(jwks),
        "SALUR_CONSUMER_GROUP_PREFIX": platform.consumer_group_prefix,
    }
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "salur_planning"], env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        assert popen.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the second planning never became ready"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return popen, url
        time.sleep(0.2)


async def members(bootstrap: str, group: str) -> list[set[int]]:
    """The registry-topic partitions of each member of `group`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    (described,) = response.groups  # raw DescribeGroups: (..., members) per group
    out = []
    for member in described[-1]:
        assignment = ConsumerProtocolMemberAssignment.decode(member[-1])
        out.append(
            {p for topic, parts in assignment.assignment if topic == REGISTRY_TOPIC for p in parts}
        )
    return out


def applied_by(url: str) -> float:
    """salur_consumer_messages_total{outcome="applied"} of one process."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    found = re.findall(r'salur_consumer_messages_total\{[^}]*outcome="applied"[^}]*\} (\S+)', text)
    return sum(float(v) for v in found)


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_two_planning_processes_share_the_registry_partitions_and_survive_one_being_killed(
    postgres_admin_url: str, kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    bootstrap = kafka_bootstrap_servers
    issuer = ensure_issuer(tmp_path / "issuer")
    token = issuer.token(role=Role.facilitator, subject="fac", region="32.73")
    with running_platform(
        postgres_admin_url=postgres_admin_url,
        kafka_bootstrap_servers=bootstrap,
        jwks_path=issuer.jwks_path,
        logs=tmp_path / "logs",
        audit_signing_key=tmp_path / "unused.pem",
        audit_checkpoint_topic="unused",
        database_prefix="replicas",
        group_prefix="replicas",
        services=("registry", "planning"),
    ) as platform:
        group = f"{platform.consumer_group_prefix}planning"
        first = (platform.processes["planning"], platform.urls["planning"])
        second = start_second_planning(platform, bootstrap, issuer.jwks_path)
        try:
            deadline = time.monotonic() + 60
            while len(split := asyncio.run(members(bootstrap, group))) != 2 or not all(split):
                assert time.monotonic() < deadline, f"the group never split: {split}"
                time.sleep(0.5)
            assert not split[0] & split[1], "each partition has one consumer"
            with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=20) as http:
                subjects = {
                    register_bkm(http, platform.urls["registry"], n) for n in range(PLANNING_BKMS)
                }
                db = platform.database_urls["planning"]
                deadline = time.monotonic() + 90
                while planning_applied(db, group, subjects) < len(subjects):
                    assert time.monotonic() < deadline, "not every registration was applied"
                    time.sleep(0.3)
                shares = [applied_by(first[1]), applied_by(second[1])]
                assert all(share > 0 for share in shares), f"both replicas applied: {shares}"

                # A replica killed: the group hands its partitions to the other.
                second[0].kill()
                second[0].wait(timeout=10)
                more = {
                    register_bkm(http, platform.urls["registry"], PLANNING_BKMS + n)
                    for n in range(30)
                }
                deadline = time.monotonic() + 120
                while planning_applied(db, group, more) < len(more):
                    assert time.monotonic() < deadline, "the survivor never took over"
                    time.sleep(0.5)
        finally:
            if second[0].poll() is None:
                second[0].kill()
                second[0].wait(timeout=10)
    print(f"planning replicas: partitions {split}; applied {shares}; survivor applied the rest")
