"""HTTP load on `POST /bkms`: open loop at a fixed rate, and closed loop at full speed."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

PATH = "/bkms"
EXPECTED_STATUS = 201


@dataclass
class LoadResult:
    """Latencies (seconds) of the requests that succeeded, and what went wrong otherwise."""

    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    max_schedule_lag: float = 0.0
    unfinished: int = 0

    @property
    def outcomes(self) -> list[float]:
        """Latencies with every failed or unanswered request counted as infinitely slow."""
        return self.latencies + [math.inf] * (self.failures.total())

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.failures.total()

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def failure_summary(self, limit: int = 3) -> str:
        return "; ".join(f"{n}x {what}" for what, n in self.failures.most_common(limit))


class BkmCommands:
    """Distinct, valid registrations of BKMs in the facilitator's city (32.73)."""

    def __init__(self, token: str, run_id: str) -> None:
        self.headers = {"Authorization": f"Bearer {token}"}
        self.run_id = run_id
        self.counter = itertools.count()

    def next(self) -> tuple[dict[str, Any], dict[str, str]]:
        i = next(self.counter)
        body = {
            "name": f"BKM Bench {self.run_id} {i}",
            "region_code": f"32.73.{i % 90 + 10:02d}.{i % 9000 + 1000:04d}",
            "address": f"Jl. Bench {i}",
            "legal_deed_number": f"AHU-BENCH-{i}",
            "founded_on": "2008-03-12",
        }
        return body, {**self.headers, "Idempotency-Key": str(uuid.uuid4())}


# Below uvicorn's 5 s keep-alive timeout, so the client never reuses a connection the
# server is closing at that moment (a spurious ReadError on an idle pooled connection).
KEEPALIVE_EXPIRY_SECONDS = 2.0


def new_client(base_url: str, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
    )
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0)


async def _post(
    client: httpx.AsyncClient, commands: BkmCommands, result: LoadResult, since: float
) -> None:
    """One command; latency counts from `since` (the scheduled start in the open loop)."""
    body, headers = commands.next()
    try:
        response = await client.post(PATH, json=body, headers=headers)
    except httpx.HTTPError as error:
        result.failures[f"{type(error).__name__}: {error}"[:120]] += 1
        return
    if response.status_code != EXPECTED_STATUS:
        result.failures[f"HTTP {response.status_code}: {response.text}"[:160]] += 1
        return
    result.latencies.append(time.perf_counter() - since)


async def open_loop(
    client: httpx.AsyncClient,
    commands: BkmCommands,
    rate: float,
    seconds: float,
    grace_seconds: float = 10.0,
) -> LoadResult:
    """Send at exactly `rate` per second by the clock, never waiting for answers.

    Latency is measured from each request's scheduled time, so a slow client or server
    cannot hide queueing (no coordinated omission). Requests still unanswered
    `grace_seconds` after the last send are cancelled and counted as failures, so an
    overloaded service cannot stretch the run.
    """
    result = LoadResult()
    total = round(rate * seconds)
    tasks: list[asyncio.Task[None]] = []
    started = time.perf_counter()
    for i in range(total):
        scheduled = started + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        result.max_schedule_lag = max(result.max_schedule_lag, time.perf_counter() - scheduled)
        tasks.append(asyncio.create_task(_post(client, commands, result, scheduled)))
    _, pending = await asyncio.wait(tasks, timeout=grace_seconds)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if pending:
        result.unfinished = len(pending)
        reason = f"no answer within {grace_seconds:.0f}s after sending stopped (overload)"
        result.failures[reason] += len(pending)
    result.elapsed = time.perf_counter() - started
    return result


async def closed_loop(
    client: httpx.AsyncClient, commands: BkmCommands, clients: int, seconds: float
) -> LoadResult:
    """`clients` workers each send their next command as soon as the last one is answered."""
    result = LoadResult()
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        while (now := time.perf_counter()) < deadline:
            await _post(client, commands, result, now)

    await asyncio.gather(*(worker() for _ in range(clients)))
    result.elapsed = time.perf_counter() - started
    return result


async def warm_up(client: httpx.AsyncClient, commands: BkmCommands, requests: int) -> LoadResult:
    """A few sequential commands so connections, caches and the JIT-less paths are warm."""
    result = LoadResult()
    started = time.perf_counter()
    for _ in range(requests):
        await _post(client, commands, result, time.perf_counter())
    result.elapsed = time.perf_counter() - started
    return result
