"""Read models in Postgres, projected from the service's own notification log.

Queries never replay aggregates: a projection keeps indexed tables up to date, writing
each batch's rows and its position in one transaction, so a crash never applies an event
to a read model twice or skips one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

import psycopg
from eventsourcing.persistence import Notification

from salur_kit import positions
from salur_kit.eventstore import ServiceApplication
from salur_kit.follower import LogFollower


class Projection(Protocol):
    name: str
    ddl: Sequence[str]

    async def apply(self, conn: psycopg.AsyncConnection[Any], event: Any) -> None:
        """Write the rows this domain event changes (inside the runner's transaction)."""


class ProjectionRunner:
    def __init__(
        self, *, app: ServiceApplication, database_url: str, projection: Projection
    ) -> None:
        self.app = app
        self.database_url = database_url
        self.projection = projection
        self.name = f"projection:{projection.name}"
        self.follower = LogFollower(app=app, database_url=database_url, lock_name=self.name)

    async def setup(self) -> None:
        """Create the tables, one replica at a time (see `positions.SCHEMA_LOCK`)."""
        connecting = psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
        async with await connecting as c, c.transaction():
            await c.execute(positions.SCHEMA_LOCK)
            await c.execute(positions.DDL)
            for statement in self.projection.ddl:
                await c.execute(statement)

    async def position(self) -> int:
        return await positions.load_from(self.database_url, self.name)

    async def project(
        self, batch: Sequence[Notification], conn: psycopg.AsyncConnection[Any]
    ) -> None:
        """Rows and position in one transaction: no event applied twice or skipped."""
        mapper = self.app.mapper
        async with conn.transaction():
            for notification in batch:
                await self.projection.apply(conn, mapper.to_domain_event(notification))
            await positions.save(conn, self.name, batch[-1].id)

    async def catch_up(self) -> None:
        """Project everything stored so far (tests, and start-up before serving).

        Only under the follower's lock: when another replica holds it, that replica keeps
        the read model current and projecting here too would apply events twice.
        """
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as c:
            if not await self.follower.try_lock(c):
                return
            position = await positions.load(c, self.name)
            async for batch in self.follower.batches_after(position):
                await self.project(batch, c)

    async def run(self, stopping: asyncio.Event) -> None:
        await self.follower.follow(
            stopping=stopping, load_position=self.position, handle=self.project
        )
