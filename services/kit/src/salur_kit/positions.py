"""Durable positions of the followers of a service's notification log."""

from __future__ import annotations

import time
from typing import Any

import psycopg

DDL = (
    "CREATE TABLE IF NOT EXISTS follower_positions ("
    " name text PRIMARY KEY, position bigint NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now())"
)
UPSERT = (
    "INSERT INTO follower_positions (name, position) VALUES (%s, %s) "
    "ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()"
)


# Serialises schema changes of the replicas of a service, which start together: two
# concurrent `CREATE ... IF NOT EXISTS` of one table can still collide.
SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('salur-schema'))"


async def ensure_table(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        # Once created (every start but the first), one round trip and no lock.
        cur = await conn.execute("SELECT to_regclass('follower_positions') IS NOT NULL")
        if (await cur.fetchone() or (False,))[0]:
            return
        async with conn.transaction():
            await conn.execute(SCHEMA_LOCK)
            await conn.execute(DDL)


async def load(conn: psycopg.AsyncConnection[Any], name: str) -> int:
    cur = await conn.execute("SELECT position FROM follower_positions WHERE name = %s", [name])
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def load_from(database_url: str, name: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        return await load(conn, name)


async def save(conn: psycopg.AsyncConnection[Any], name: str, position: int) -> None:
    await conn.execute(UPSERT, [name, position])


class LazyPosition:
    """A follower's position after a batch that changed nothing for it (events another
    follower of the log is for): kept in memory, recorded with the next batch that does
    change something, or once `interval` seconds have passed since the last record.

    Repeating such a batch after a crash changes nothing either, so the record may lag;
    under load it saves each of those events a write of its own."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.unrecorded: int | None = None
        self._recorded_at = 0.0

    def due(self) -> bool:
        return time.monotonic() - self._recorded_at >= self.interval

    def skip(self, position: int) -> None:
        self.unrecorded = position

    def recorded(self, position: int) -> None:
        self._recorded_at = time.monotonic()
        if self.unrecorded is not None and self.unrecorded <= position:
            self.unrecorded = None
