"""Of several audit replicas, exactly one runs the sequencer at a time.

The ledger is one ordered stream: two sequencers would both read every topic and race for
each checkpoint (the loser's `ConcurrentWriterError` restarts it, over and over). So a
replica sequences only while it holds a session advisory lock on a connection of its own;
the others wait and retry every second, and serve HTTP meanwhile. When the holder's
process dies, Postgres drops its connection and the lock with it, and another replica takes
over from the ledger's last checkpoint. When the holder's connection is lost but the
process lives, the check below stops its sequencer within a few seconds; the ledger's
per-append lock and checkpoint-number check keep the ledger whole in that short overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

# Two int4 keys (the one-bigint key space of the ledger's per-append lock is separate).
LOCK_SQL = "SELECT pg_try_advisory_lock(hashtext('salur-audit'), hashtext('sequencer'))"


class LeadershipLostError(RuntimeError):
    """The connection holding the sequencer's lock is gone: another replica may lead now."""


async def _try_lock(conn: psycopg.AsyncConnection[Any]) -> bool:
    row = await (await conn.execute(LOCK_SQL)).fetchone()
    return bool(row and row[0])


async def while_leader(
    database_url: str,
    stopping: asyncio.Event,
    run: Callable[[asyncio.Event], Awaitable[None]],
    *,
    check_seconds: float = 1.0,
) -> None:
    """Wait for the sequencer's lock, then `run(stopping)` while holding it.

    Returns when `stopping` is set (before or after leading) or `run` returns; raises
    `LeadershipLostError` (after stopping `run`) if the lock's connection stops answering.
    """
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        while not await _try_lock(conn):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=check_seconds)
            if stopping.is_set():
                return
        work = asyncio.ensure_future(run(stopping))
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=check_seconds)
                if not work.done():
                    await _still_held(conn, check_seconds)
            await work
        finally:
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work


async def _still_held(conn: psycopg.AsyncConnection[Any], check_seconds: float) -> None:
    try:
        await asyncio.wait_for(conn.execute("SELECT 1"), timeout=max(5.0, 5 * check_seconds))
    except (psycopg.Error, TimeoutError) as error:
        raise LeadershipLostError("the connection holding the sequencer's lock was lost") from error
