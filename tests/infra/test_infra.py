"""The local infrastructure answers as declared: Kafka topics from infra/topics.yaml, the
Postgres role and databases, and the fixtures built on them."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVICE_DATABASES = {
    "salur_registry",
    "salur_planning",
    "salur_opportunities",
    "salur_matching",
    "salur_partnerships",
    "salur_audit",
}


def load_infra_topics() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "infra_topics_under_test", ROOT / "infra/topics.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while loading
    spec.loader.exec_module(module)
    return module


async def describe(bootstrap: str, names: list[str]) -> tuple[list[Any], dict[str, dict[str, str]]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = await admin.describe_topics(names)
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    finally:
        await admin.close()
    configs = {
        str(resource[3]): {str(entry[0]): str(entry[1]) for entry in resource[4]}
        for response in responses
        for resource in response.resources
    }
    return topics, configs


async def test_every_declared_topic_exists_as_declared(kafka_bootstrap_servers: str) -> None:
    declared = load_infra_topics().load_topics()
    assert {spec.name for spec in declared} >= {
        "salur.registry.events.v1",
        "salur.audit.checkpoints.v1",
        "salur.dlq.test",
    }

    topics, configs = await describe(kafka_bootstrap_servers, [spec.name for spec in declared])

    partitions = {topic["topic"]: len(topic["partitions"]) for topic in topics}
    assert partitions == {spec.name: spec.partitions for spec in declared}
    for spec in declared:
        assert configs[spec.name]["retention.ms"] == "-1", spec.name
        assert configs[spec.name]["min.insync.replicas"] == spec.config["min.insync.replicas"]


async def test_creating_topics_twice_is_harmless(kafka_bootstrap_servers: str) -> None:
    topics = load_infra_topics()
    lines: list[str] = []

    await topics.ensure_topics_async(kafka_bootstrap_servers, log=lines.append)
    await asyncio.to_thread(topics.ensure_topics, kafka_bootstrap_servers)

    assert lines
    assert all(line.startswith("ok ") for line in lines), lines


async def test_unique_topic_has_three_partitions(
    kafka_bootstrap_servers: str, unique_topic: str
) -> None:
    topics, _ = await describe(kafka_bootstrap_servers, [unique_topic])

    assert len(topics[0]["partitions"]) == 3


def test_postgres_has_the_service_databases_and_salur_role(postgres_admin_url: str) -> None:
    with psycopg.connect(postgres_admin_url) as admin:
        names = {row[0] for row in admin.execute("SELECT datname FROM pg_database")}
        can_create = admin.execute(
            "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert names >= SERVICE_DATABASES
    assert can_create == (True,)

    base = postgres_admin_url.rsplit("/", 1)[0]
    for name in sorted(SERVICE_DATABASES):
        with psycopg.connect(f"{base}/{name}") as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (name,)


def test_fresh_database_is_empty_and_dropped_afterwards(
    fresh_database_url: str, postgres_admin_url: str
) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        conn.execute("CREATE TABLE scratch (id int)")
    assert tables == (0,)
    assert fresh_database_url.rsplit("/", 1)[1].startswith("t_")
