"""The log follower wakes on NOTIFY, reads each batch once, and never sleeps past an event.

The safety poll is set far beyond each test's wait, so only a NOTIFY can wake the follower.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import psycopg
import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Notification
from salur_kit.eventstore import ServiceApplication, postgres_env
from salur_kit.follower import LogFollower

pytestmark = pytest.mark.integration

NEVER = 600.0


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text

    @event("Amended")
    def amend(self, text: str) -> None:
        self.text = text


class Notes(ServiceApplication):
    def write(self, *texts: str) -> None:
        """One transaction (and so one NOTIFY) storing one event per text."""
        self.save(*(Note(text) for text in texts))


class CountingFollower(LogFollower):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reads = 0

    async def read_after(self, position: int) -> Sequence[Notification]:
        self.reads += 1
        return await super().read_after(position)


class Following:
    """A follower running in the background, with every batch it handled."""

    def __init__(self, follower: CountingFollower) -> None:
        self.follower = follower
        self.batches: list[list[int]] = []
        self.reads_when_handled: list[int] = []
        self.on_batch: Callable[[], None] = lambda: None
        self.changed = asyncio.Condition()

    async def handle(
        self, batch: Sequence[Notification], conn: psycopg.AsyncConnection[Any]
    ) -> None:
        self.batches.append([n.id for n in batch])
        await asyncio.sleep(0)  # what the follower started before handing over has begun
        self.reads_when_handled.append(self.follower.reads)
        self.on_batch()
        async with self.changed:
            self.changed.notify_all()

    def handled_ids(self) -> list[int]:
        return [i for batch in self.batches for i in batch]

    async def batches_handled(self, count: int) -> None:
        async with asyncio.timeout(10.0), self.changed:
            await self.changed.wait_for(lambda: len(self.batches) >= count)


async def _start_position() -> int:
    return 0


@pytest.fixture
async def notes(fresh_database_url: str) -> AsyncIterator[Notes]:
    app = Notes(postgres_env(fresh_database_url))
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
async def following(notes: Notes, fresh_database_url: str) -> AsyncIterator[Following]:
    follower = CountingFollower(
        app=notes,
        database_url=fresh_database_url,
        lock_name="notes",
        batch_size=50,
        safety_poll_seconds=NEVER,
    )
    following = Following(follower)
    stopping = asyncio.Event()
    task = asyncio.create_task(
        follower.follow(stopping=stopping, load_position=_start_position, handle=following.handle)
    )
    # Started once it has read the empty log and sleeps until a NOTIFY.
    for _ in range(100):
        if follower.reads:
            break
        await asyncio.sleep(0.05)
    try:
        yield following
    finally:
        stopping.set()
        await asyncio.wait_for(task, 10)


async def test_a_short_batch_is_read_once_and_the_follower_then_waits_for_the_next_notify(
    notes: Notes, following: Following
) -> None:
    reads_before = following.follower.reads

    await asyncio.to_thread(notes.write, "a", "b", "c")
    await following.batches_handled(1)
    await asyncio.sleep(1.0)

    assert following.batches == [[1, 2, 3]]
    # The batch's own read and nothing after it: no read to find the log empty again.
    assert following.follower.reads == reads_before + 1


async def test_an_event_stored_while_a_batch_is_handled_is_followed_without_waiting_for_a_poll(
    notes: Notes, following: Following
) -> None:
    # The second write commits while the first batch is being handled, after its read.
    following.on_batch = lambda: notes.write("during") if len(following.batches) == 1 else None

    await asyncio.to_thread(notes.write, "first")
    await following.batches_handled(2)

    assert following.handled_ids() == [1, 2]


async def test_a_batch_as_large_as_the_limit_is_followed_at_once_by_the_rest(
    notes: Notes, following: Following
) -> None:
    reads_before = following.follower.reads

    await asyncio.to_thread(notes.write, *(f"note {i}" for i in range(120)))
    await following.batches_handled(3)

    assert [len(batch) for batch in following.batches] == [50, 50, 20]
    assert following.handled_ids() == list(range(1, 121))
    # While a full batch is handled the next is already being read; a short one reads on.
    assert following.reads_when_handled == [reads_before + n for n in (2, 3, 3)]
