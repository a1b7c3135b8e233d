"""How far the service's relay and projection trail its event store after the load."""

from __future__ import annotations

import asyncio
import time

from salur_kit import positions
from salur_kit.eventstore import postgres_env
from salur_registry.application import RegistryApplication
from salur_registry.readmodel import RegistryLists

FOLLOWERS = ("relay", f"projection:{RegistryLists.name}")


async def catch_up_seconds(database_url: str, timeout_seconds: float = 30.0) -> float:
    """Seconds until every follower has reached the newest stored event (NaN on timeout)."""
    app = RegistryApplication(postgres_env(database_url, pool_size=1))
    try:
        newest = await asyncio.to_thread(app.recorder.max_notification_id) or 0
    finally:
        app.close()
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_seconds:
        reached = [await positions.load_from(database_url, name) for name in FOLLOWERS]
        if min(reached) >= newest:
            return time.perf_counter() - started
        await asyncio.sleep(0.05)
    return float("nan")
