"""Safe scaling of consumers: two replicas of a tracked consumer share a topic's partitions
through their consumer group, and together apply each event exactly once.

Runs the consumer processes of tests/reliability/workers.py (a tally of the events seen
per aggregate, tracked in Postgres) side by side in one group.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import pytest
from salur_kit.auth import Principal, Role
from salur_kit.eventstore import postgres_env
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
