"""Read models in Postgres, projected from the service's own notification log.

Queries never replay aggregates: a projection keeps indexed tables up to date, writing
each batch's rows and its position in one transaction, so a crash never applies an event
to a read model twice or skips one.

A projection names the aggregates whose events it reads; the others in the log are skipped
before they are decoded, and a batch with none of its events records its position lazily
(`positions.LazyPosition`).
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
    # Aggregate class names (`Plan`): the events of others never reach `apply`.
    aggregates: Sequence[str]

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
        self.lazy = positions.LazyPosition()
        self._reads = frozenset(projection.aggregates)

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
        mine = [n for n in batch if self._aggregate_of(n.topic) in self._reads]
        if not mine and not self.lazy.due():
            self.lazy.skip(batch[-1].id)
            return
        mapper = self.app.mapper
        async with conn.transaction():
            for notification in mine:
                await self.projection.apply(conn, mapper.to_domain_event(notification))
            await positions.save(conn, self.name, batch[-1].id)
        self.lazy.recorded(batch[-1].id)

    @staticmethod
    def _aggregate_of(topic: str) -> str:
        """`salur_planning.domain:Plan.ActivityAdded` -> `Plan`."""
        return topic.partition(":")[2].partition(".")[0]

    async def idle(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Caught up: record a lazily kept position once it is due."""
        if self.lazy.due():
            await self._record_skipped(conn)

    async def _record_skipped(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if self.lazy.unrecorded is not None:
            await positions.save(conn, self.name, self.lazy.unrecorded)
            self.lazy.recorded(self.lazy.unrecorded)

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
            await self._record_skipped(c)

    async def run(self, stopping: asyncio.Event) -> None:
        await self.follower.follow(
            stopping=stopping, load_position=self.position, handle=self.project, when_idle=self.idle
        )
