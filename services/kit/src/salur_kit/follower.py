"""Following a service's own notification log without busy polling.

The relay (to Kafka) and the projections (to read models) both read the log in order,
batch by batch, and sleep until Postgres NOTIFYs that new events were stored. Each keeps
its own durable position; this module only reads and waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import Notification

from salur_kit.eventstore import ServiceApplication

# A batch and the follower's own connection, for writing the position (and, for a
# projection, its rows) without opening a connection per batch.
HandleBatch = Callable[[Sequence[Notification], psycopg.AsyncConnection[Any]], Awaitable[None]]


class LogFollower:
    def __init__(
        self,
        *,
        app: ServiceApplication,
        database_url: str,
        lock_name: str,
        batch_size: int = 1000,
        safety_poll_seconds: float = 5.0,
        batch_window_seconds: float = 0.02,
    ) -> None:
        self.app = app
        self.database_url = database_url
        self.lock_name = lock_name
        self.batch_size = batch_size
        self.safety_poll_seconds = safety_poll_seconds
        self.batch_window_seconds = batch_window_seconds
        self.channel: str = app.recorder.channel_name  # type: ignore[attr-defined]

    async def read_after(self, position: int) -> Sequence[Notification]:
        return await asyncio.to_thread(
            self.app.recorder.select_notifications,
            position,
            self.batch_size,
            inclusive_of_start=False,
        )

    async def batches_after(self, position: int) -> AsyncGenerator[Sequence[Notification], None]:
        """Each batch stored after `position`, in order, until a short one (everything
        stored when it was read). While a full batch is being handled, the next one is
        already being read: catching up after a stop is not one round trip per batch slower
        than it need be. Close it (`contextlib.aclosing`) when leaving early."""
        batch = await self.read_after(position)
        ahead: asyncio.Future[Sequence[Notification]] | None = None
        try:
            while batch:
                if len(batch) == self.batch_size:
                    ahead = asyncio.ensure_future(self.read_after(batch[-1].id))
                yield batch
                if ahead is None:
                    return
                batch, ahead = await ahead, None
        finally:
            if ahead is not None:
                ahead.cancel()

    async def newest(self) -> int:
        return await asyncio.to_thread(self.app.recorder.max_notification_id) or 0

    async def follow(
        self,
        *,
        stopping: asyncio.Event,
        load_position: Callable[[], Awaitable[int]],
        handle: HandleBatch,
        when_idle: Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]] | None = None,
    ) -> None:
        """Hand every batch after the saved position to `handle` until `stopping`;
        `when_idle` runs each time the log is caught up, before sleeping, every half second
        while it sleeps, and at the end.

        `handle` must record its position with its effect, in one transaction on the
        connection it is given (see the note on `synchronous_commit` below).

        Holds an advisory lock named after the follower for its whole run, so that of
        several replicas of a service exactly one follows (and publishes) at a time;
        another takes over within a second of the holder's connection dying.
        """
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as c:
            if not await self._acquire_lock(c, stopping):
                return
            await c.execute(f'LISTEN "{self.channel}"')
            # A follower's handler records its position in the same transaction as its
            # effect, so a commit lost in a Postgres crash only rewinds the follower to
            # repeat work it tolerates repeating (the relay publishes at least once);
            # waiting for the WAL flush of every batch would buy nothing but latency.
            await c.execute("SET synchronous_commit = off")
            position = await load_position()
            try:
                while not stopping.is_set():
                    # Every NOTIFY received so far is for an event these reads will see, so
                    # none of them needs a read of its own afterwards; and what is stored
                    # after the last (short) batch was read NOTIFYs after it.
                    await self._discard_notifies(c)
                    async with contextlib.aclosing(self.batches_after(position)) as batches:
                        async for batch in batches:
                            await handle(batch, c)
                            position = batch[-1].id
                            if stopping.is_set():
                                break
                    if when_idle is not None:
                        await when_idle(c)
                    await self._wait_for_notify(c, stopping, when_idle)
            finally:
                # Work still in flight on this connection finishes before it closes.
                if when_idle is not None:
                    await when_idle(c)

    async def _acquire_lock(
        self, conn: psycopg.AsyncConnection[Any], stopping: asyncio.Event
    ) -> bool:
        while not stopping.is_set():
            if await self.try_lock(conn):
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=1.0)
        return False

    async def try_lock(self, conn: psycopg.AsyncConnection[Any]) -> bool:
        """Take the follower's lock for the life of `conn` if no other replica holds it."""
        cur = await conn.execute(
            "SELECT pg_try_advisory_lock(hashtext('salur-follower'), hashtext(%s))",
            [self.lock_name],
        )
        row = await cur.fetchone()
        return bool(row and row[0])

    async def _discard_notifies(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Consume the NOTIFYs already received (or waiting on the socket) without waiting."""
        async for _ in conn.notifies(timeout=0):
            pass

    async def _wait_for_notify(
        self,
        conn: psycopg.AsyncConnection[Any],
        stopping: asyncio.Event,
        tick: Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]] | None,
    ) -> None:
        """Sleep until a NOTIFY arrives, `stopping` is set, or the safety poll is due;
        `tick` runs every half second of it."""
        waited = 0.0
        while waited < self.safety_poll_seconds and not stopping.is_set():
            async for _ in conn.notifies(timeout=0.5, stop_after=1):
                # Let a few more commands land, so that under load one read serves many
                # events instead of one wake-up (and its round trips) per event.
                await asyncio.sleep(self.batch_window_seconds)
                return
            waited += 0.5
            if tick is not None:
                await tick(conn)
