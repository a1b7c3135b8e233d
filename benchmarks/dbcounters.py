"""What the service made Postgres do: connections opened and transactions committed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import psycopg
from salur_kit.eventstore import postgres_env
from salur_registry.application import RegistryApplication

# Postgres publishes other sessions' statistics at most about once a second.
STATS_DELAY_SECONDS = 1.5


@dataclass(frozen=True)
class Counters:
    events: int
    sessions: int
    commits: int

    def per_event_since(self, before: Counters) -> tuple[float, float] | None:
        """(connections opened, transactions committed) per stored event in between."""
        events = self.events - before.events
        if events <= 0:
            return None
        return (self.sessions - before.sessions) / events, (self.commits - before.commits) / events


async def counters(admin_url: str, database_url: str, database: str) -> Counters:
    await asyncio.sleep(STATS_DELAY_SECONDS)
    app = RegistryApplication(postgres_env(database_url, pool_size=1))
    try:
        newest = await asyncio.to_thread(app.recorder.max_notification_id) or 0
    finally:
        app.close()
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT sessions, xact_commit FROM pg_stat_database WHERE datname = %s", [database]
        )
        row = await cur.fetchone()
    sessions, commits = row if row else (0, 0)
    return Counters(events=int(newest), sessions=int(sessions), commits=int(commits))
