"""The scheduled close: a loop that closes open opportunities once their close date passed.

Time comes from the application's clock (injected in tests), never from the loop itself;
which opportunities are due comes from the read model's index, and each is closed through
the aggregate, which decides again (a revision may have moved the date meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from uuid import UUID

from psycopg_pool import AsyncConnectionPool
from salur_kit.runtime import Loop, LoopSpec, Running

from salur_opportunities import readmodel
from salur_opportunities.application import OpportunitiesApplication

log = logging.getLogger(__name__)

EVERY_SECONDS = 60.0


class AutoClose:
    def __init__(
        self,
        app: OpportunitiesApplication,
        read_pool: AsyncConnectionPool,
        every_seconds: float = EVERY_SECONDS,
    ) -> None:
        self.app = app
        self.read_pool = read_pool
        self.every_seconds = every_seconds

    async def tick(self) -> list[UUID]:
        """Close what is due today; the ids it closed."""
        today = self.app.clock()
        async with self.read_pool.connection() as conn:
            due = await readmodel.due_to_close(conn, today)
        closed = []
        for opportunity_id in due:
            if await asyncio.to_thread(self.app.close_if_due, opportunity_id):
                closed.append(opportunity_id)
        if closed:
            log.info(
                "opportunities closed at their close date", extra={"fields": {"n": len(closed)}}
            )
        return closed

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=self.every_seconds)


def auto_close(every_seconds: float = EVERY_SECONDS) -> LoopSpec:
    """The loop as the runtime supervises it."""

    def make(running: Running) -> Loop:
        app = running.app
        assert isinstance(app, OpportunitiesApplication)
        return AutoClose(app, running.read_pool, every_seconds).run

    return LoopSpec(name="auto-close", make=make)
