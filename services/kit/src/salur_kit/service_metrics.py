"""The figures every service exposes beside its request latencies, read at scrape time.

- `salur_events_stored_total`: the newest id of the notification log (events stored).
- `salur_relay_lag_events`: events stored but not yet acknowledged by Kafka; likewise
  `salur_projection_lag_events` for each read model.
- `salur_relay_published_total`: events this process published.
- `salur_consumer_messages_total{group,outcome}` and `salur_dead_lettered_messages_total`.
- `salur_consumer_lag_messages{group,topic}`: records a group has not committed yet.
- `process_resident_memory_bytes` and `process_cpu_seconds_total`, as Prometheus names them.
"""

from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from salur_kit.lag import CachedGroupLags, lag_by_topic
from salur_kit.metrics import Family, MetricsRegistry, Sample

if TYPE_CHECKING:
    from salur_kit.runtime import Running


def install(registry: MetricsRegistry, running: Running) -> None:
    """Add the service's collectors; `running.consumers` may still be empty (filled on start)."""
    registry.add_collector("event_store", lambda: _event_store(running))
    registry.add_collector("consumers", lambda: _consumer_outcomes(running))
    lags = CachedGroupLags(
        running.settings.kafka_bootstrap_servers,
        lambda: [(consumer.group, consumer.topics) for consumer in running.consumers],
    )
    registry.add_collector("consumer_lag", lambda: _consumer_lag(lags))
    registry.add_collector("process", _process)


async def _event_store(running: Running) -> list[Family]:
    newest = await asyncio.to_thread(running.app.recorder.max_notification_id) or 0
    async with running.read_pool.connection() as conn:
        cur = await conn.execute("SELECT name, position FROM follower_positions")
        recorded = {str(name): int(position) for name, position in await cur.fetchall()}
    relay = running.relay.name
    projections = [runner.name for runner in running.projections]
    return [
        Family(
            "salur_events_stored",
            "counter",
            "Events stored in the service's notification log (its newest id).",
            [Sample({}, newest, "_total")],
        ),
        Family(
            "salur_relay_lag_events",
            "gauge",
            "Events stored but not yet acknowledged by Kafka.",
            [Sample({}, max(0, newest - recorded.get(relay, 0)))],
        ),
        Family(
            "salur_projection_lag_events",
            "gauge",
            "Events stored but not yet in the read model.",
            [
                Sample(
                    {"projection": name.removeprefix("projection:")},
                    _behind(newest, recorded, name),
                )
                for name in projections
            ],
        ),
        Family(
            "salur_relay_published",
            "counter",
            "Events this process published to Kafka (acknowledged).",
            [Sample({}, running.relay.stats.relayed, "_total")],
        ),
    ]


def _behind(newest: int, recorded: dict[str, int], name: str) -> int:
    return max(0, newest - recorded.get(name, 0))


async def _consumer_outcomes(running: Running) -> list[Family]:
    outcomes: list[Sample] = []
    dead: list[Sample] = []
    for consumer in running.consumers:
        stats = consumer.stats
        for outcome, value in (
            ("applied", stats.applied),
            ("duplicate", stats.duplicates),
            ("dead_lettered", stats.dead_lettered),
        ):
            outcomes.append(Sample({"group": consumer.group, "outcome": outcome}, value, "_total"))
        dead.append(Sample({"group": consumer.group}, stats.dead_lettered, "_total"))
    return [
        Family(
            "salur_consumer_messages",
            "counter",
            "Messages a tracked consumer handled, by outcome.",
            outcomes,
        ),
        Family(
            "salur_dead_lettered_messages",
            "counter",
            "Messages sent to the group's dead-letter topic (salur.dlq.<group>).",
            dead,
        ),
    ]


async def _consumer_lag(lags: CachedGroupLags) -> Sequence[Family]:
    totals = lag_by_topic(await lags.get())
    return [
        Family(
            "salur_consumer_lag_messages",
            "gauge",
            "Records on the topic the group has not committed yet (refreshed every few seconds).",
            [
                Sample({"group": group, "topic": topic}, lag)
                for (group, topic), lag in sorted(totals.items())
            ],
        )
    ]


async def _process() -> list[Family]:
    times = os.times()
    return [
        Family(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of this process.",
            [Sample({}, resident_memory_bytes())],
        ),
        Family(
            "process_cpu_seconds",
            "counter",
            "CPU time (user and system) this process used.",
            [Sample({}, times.user + times.system, "_total")],
        ),
    ]


def resident_memory_bytes() -> int:
    """Current resident set size; the peak where /proc is missing (not Linux)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak * 1024  # kilobytes on Linux and the BSDs
    return pages * os.sysconf("SC_PAGE_SIZE")
