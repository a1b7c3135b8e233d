"""Replicas of a service start together: their read-model set-up must not collide.

Kubernetes starts every replica of a Deployment at once. Each creates its read-model
tables and catches its projections up before serving; both happen on the one database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest
from salur_audit import ledger
from salur_audit.settings import WRITER_ROLE
from salur_kit.auth import Principal, Role
from salur_kit.eventstore import postgres_env
from salur_kit.projection import ProjectionRunner
from salur_registry.application import RegistryApplication

pytestmark = pytest.mark.integration

FACILITATOR = Principal(
    subject="fac-1", role=Role.facilitator, organisation_id=None, region_prefix="32.73"
)


class Seen:
    """A read model that records every event it is given: a repeat shows as a second row."""

    name = "seen"
    aggregates: Sequence[str] = ("Bkm",)
    ddl: Sequence[str] = (
        *(f"CREATE TABLE IF NOT EXISTS seen_{i} (n int)" for i in range(4)),
        "CREATE TABLE IF NOT EXISTS seen (originator uuid NOT NULL, version int NOT NULL)",
        "CREATE INDEX IF NOT EXISTS seen_by_originator ON seen (originator)",
    )

    async def apply(self, conn: psycopg.AsyncConnection[Any], event: Any) -> None:
        await conn.execute(
            "INSERT INTO seen (originator, version) VALUES (%s, %s)",
            [event.originator_id, event.originator_version],
        )


def store_events(database_url: str, bkms: int) -> int:
    app = RegistryApplication(postgres_env(database_url))
    try:
        for i in range(bkms):
            app.register_bkm(
                FACILITATOR,
                bkm_id=None,
                name=f"BKM {i}",
                region_code=f"32.73.01.{1000 + i:04d}",
                address="Jl. Braga",
                legal_deed_number=f"AHU-{i}",
                founded_on=dt.date(2010, 1, 1),
            )
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


def runners(database_url: str, count: int) -> list[ProjectionRunner]:
    return [
        ProjectionRunner(
            app=RegistryApplication(postgres_env(database_url)),
            database_url=database_url,
            projection=Seen(),
        )
        for _ in range(count)
    ]


async def test_replicas_starting_at_once_create_the_event_store_without_colliding(
    fresh_database_url: str,
) -> None:
    def start() -> int:
        app = RegistryApplication(postgres_env(fresh_database_url))
        try:
            return app.recorder.max_notification_id() or 0
        finally:
            app.close()

    assert await asyncio.gather(*(asyncio.to_thread(start) for _ in range(6))) == [0] * 6


async def test_replicas_setting_up_at_once_create_the_tables_without_colliding(
    fresh_database_url: str,
) -> None:
    replicas = runners(fresh_database_url, 6)
    try:
        await asyncio.gather(*(r.setup() for r in replicas))
    finally:
        for r in replicas:
            r.app.close()
    with psycopg.connect(fresh_database_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'seen%%'"
            " OR tablename = 'follower_positions'"
        ).fetchone()
    assert tables == (6,)


async def test_replicas_catching_up_at_once_project_each_event_once(
    fresh_database_url: str,
) -> None:
    stored = await asyncio.to_thread(store_events, fresh_database_url, 40)
    replicas = runners(fresh_database_url, 3)
    try:
        await replicas[0].setup()
        await asyncio.gather(*(r.catch_up() for r in replicas))
        # Whoever did not get the lock has nothing left to do once the holder is done.
        await asyncio.gather(*(r.catch_up() for r in replicas))
    finally:
        for r in replicas:
            r.app.close()
    with psycopg.connect(fresh_database_url) as conn:
        rows = conn.execute("SELECT count(*), count(DISTINCT (originator, version)) FROM seen")
        assert rows.fetchone() == (stored, stored)


async def test_audit_replicas_starting_at_once_migrate_the_ledger_without_colliding(
    fresh_database_url: str,
) -> None:
    # Every start migrates (tables, triggers, grants), so it matters on restarts too.
    for _ in range(3):
        await asyncio.gather(
            *(asyncio.to_thread(ledger.migrate, fresh_database_url, WRITER_ROLE) for _ in range(4))
        )
    with psycopg.connect(fresh_database_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename = ANY(%s)", [list(ledger.TABLES)]
        ).fetchone()
    assert tables == (len(ledger.TABLES),)
