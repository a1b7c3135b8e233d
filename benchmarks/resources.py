"""The throw-away resources of one run: a fresh database and fresh Kafka topics."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import psycopg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from psycopg import sql

from benchmarks.settings import with_database

Progress = Callable[[str], None]


def wait_for_postgres(admin_url: str, progress: Progress, timeout_seconds: float = 120.0) -> None:
    """Poll until the server accepts connections (another engineer may still be starting it)."""
    deadline = time.monotonic() + timeout_seconds
    announced = False
    while True:
        try:
            with psycopg.connect(admin_url, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Postgres not reachable after {timeout_seconds:.0f}s"
                ) from error
            if not announced:
                progress(f"waiting for Postgres at {_server_of(admin_url)} ...")
                announced = True
            time.sleep(1.0)


def _server_of(url: str) -> str:
    return url.rsplit("@", 1)[-1]


@contextlib.contextmanager
def fresh_database(admin_url: str, name: str) -> Iterator[str]:
    """Create `name`, yield its URL, and drop it (forcing out connections) afterwards."""
    identifier = sql.Identifier(name)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(identifier))
    try:
        yield with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier))


@contextlib.asynccontextmanager
async def fresh_topic(bootstrap: str, name: str, partitions: int) -> AsyncIterator[str]:
    """Create a topic with aiokafka's admin client, yield its name, and delete it afterwards."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="salur-bench-admin")
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name=name, num_partitions=partitions, replication_factor=1)]
        )
        await _until_visible(admin, name)
        try:
            yield name
        finally:
            await admin.delete_topics([name])
    finally:
        await admin.close()


async def _until_visible(admin: AIOKafkaAdminClient, name: str, wait_seconds: float = 10.0) -> None:
    """Until the topic is listed and every partition has a leader (no first-send retries)."""
    deadline = time.monotonic() + wait_seconds
    while not await _has_leaders(admin, name):
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {name} had no leaders within {wait_seconds:.0f}s")
        await asyncio.sleep(0.1)


async def _has_leaders(admin: AIOKafkaAdminClient, name: str) -> bool:
    if name not in set(await admin.list_topics()):
        return False
    described: list[dict[str, Any]] = await admin.describe_topics([name])
    partitions = [p for topic in described for p in topic.get("partitions", [])]
    return bool(partitions) and all(p.get("leader", -1) >= 0 for p in partitions)
