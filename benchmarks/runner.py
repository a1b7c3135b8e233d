"""One bench run: baselines, relay, then the registry over HTTP, all against fresh resources."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from salur_kit.auth import Role
from salur_kit.devtokens import ensure_issuer

from benchmarks import (
    audit,
    baselines,
    figures,
    matching,
    opportunities,
    partnerships,
    planning,
    platform,
    relay,
    vegeta,
)
from benchmarks.dbcounters import counters
from benchmarks.followers import catch_up_seconds
from benchmarks.load import (
    BkmCommands,
    LoadResult,
    closed_loop,
    new_client,
    open_loop,
    warm_up,
)
from benchmarks.report import Report, table
from benchmarks.resources import fresh_database, fresh_topic, wait_for_postgres
from benchmarks.service import ENTRY_POINT, replica_processes
from benchmarks.settings import BenchSettings

T = TypeVar("T")
WARM_UP_REQUESTS = 20
# The relay's drain is a few seconds long and swings by a third between runs on a shared
# machine; the figure is the median of three drains of the same stored events.
RELAY_RUNS = 3
SETTLE_SECONDS = 3.0


class Bench:
    def __init__(self, settings: BenchSettings) -> None:
        self.settings = settings
        self.report = Report(run_id=settings.run_id)
        self.started = time.perf_counter()

    def progress(self, message: str) -> None:
        print(f"[bench {time.perf_counter() - self.started:6.1f}s] {message}", flush=True)

    async def step(self, name: str, action: Callable[[], Awaitable[T]]) -> T | None:
        """Run one step; an exception is recorded as an error and the run goes on."""
        self.progress(f"{name} ...")
        try:
            return await action()
        except Exception as error:
            self.report.errors.append(f"{name}: {type(error).__name__}: {error}")
            self.progress(f"{name} FAILED: {type(error).__name__}: {error}")
            return None

    async def run(self) -> Report:
        s = self.settings
        self.progress(
            f"run {s.run_id}: Postgres {s.admin_url.rsplit('@', 1)[-1]}, Kafka {s.bootstrap}"
        )
        wait_for_postgres(s.admin_url, self.progress)
        if s.runs("registry"):
            with fresh_database(s.admin_url, s.database) as store_url:
                await self.baselines_and_relay(store_url)
            with fresh_database(s.admin_url, s.service_database) as service_url:
                await self.http(service_url)
        if s.runs("planning"):
            await self.step("planning seeking-funding bench", lambda: planning.run(self))
        if s.runs("audit"):
            await self.step("audit ledger bench", lambda: audit.run(self))
        if s.runs("partnerships"):
            await self.step("partnerships bench", lambda: partnerships.run(self))
        if s.runs("matching"):
            await self.step("matching bench", lambda: matching.run(self))
        if s.runs("opportunities"):
            await self.step("opportunities region+aspect bench", lambda: opportunities.run(self))
        if s.runs("platform"):
            await self.step("whole platform bench", lambda: platform.run(self))
        return self.report

    async def baselines_and_relay(self, database_url: str) -> None:
        s = self.settings
        pg = await self.step(
            f"raw Postgres: {s.pg_rows:,} single-row autocommit inserts",
            lambda: asyncio.to_thread(
                baselines.postgres_single_row_inserts, database_url, s.pg_rows
            ),
        )
        self.report.details["postgres_inserts_per_second"] = pg
        async with fresh_topic(s.bootstrap, f"{s.topic_prefix}.raw", s.topic_partitions) as topic:
            kafka = await self.step(
                f"raw Kafka producer: {s.kafka_messages:,} records to {topic}",
                lambda: baselines.kafka_producer(s.bootstrap, topic, s.kafka_messages),
            )
        self.report.details["kafka_records_per_second"] = kafka
        stored = await self.step(
            f"storing {s.relay_events:,} registry events",
            lambda: _timed(asyncio.to_thread(relay.store_events, database_url, s.relay_events)),
        )
        rates: list[float] = []
        if stored is not None:
            self.report.details["store_seconds"] = stored
            for run in range(1, RELAY_RUNS + 1):
                name = f"{s.topic_prefix}.relay{run}"
                async with fresh_topic(s.bootstrap, name, s.topic_partitions) as t:
                    rate = await self.step(
                        f"OutboxRelay.drain() {run} of {RELAY_RUNS}: {s.relay_events:,} events"
                        f" to {t}",
                        functools.partial(
                            relay.relay_rate,
                            database_url,
                            s.bootstrap,
                            t,
                            s.relay_events,
                            name=f"relay-{run}",
                        ),
                    )
                if rate is not None:
                    rates.append(rate)
            self.report.details["relay_events_per_second"] = rates
        for figure in figures.baselines_and_relay(s, pg, kafka, rates):
            self.report.add(figure)

    async def http(self, database_url: str) -> None:
        with tempfile.TemporaryDirectory(prefix="salur-bench-issuer-") as directory:
            issuer = ensure_issuer(Path(directory))
            token = issuer.token(role=Role.facilitator, subject="bench", region="32.73")
            try:
                await self.serve_and_load(issuer.jwks_path, database_url, token)
            except Exception as error:
                self.report.errors.append(f"registry service: {type(error).__name__}: {error}")
                self.progress(f"registry service FAILED: {type(error).__name__}: {error}")

    async def serve_and_load(self, jwks_path: Path, database_url: str, token: str) -> None:
        s = self.settings
        log_path = s.output_dir / f"registry-{s.run_id}.log"
        self.progress(f"starting the registry: python -m {ENTRY_POINT} (log {log_path}) ...")
        self.report.details["service_log"] = str(log_path)
        async with replica_processes(
            s.replicas,
            database_url=database_url,
            bootstrap=s.bootstrap,
            jwks_path=jwks_path,
            log_path=log_path,
            progress=self.progress,
        ) as services:
            await self.load(services, database_url, token)
            self.progress("stopping the registry ...")

    async def load(self, base_urls: list[str], database_url: str, token: str) -> None:
        """The closed loop and one open loop on the first replica alone; then the open
        loop again, spread over every replica."""
        s = self.settings
        db = s.service_database
        base_url = base_urls[0]
        commands = BkmCommands(token, s.run_id)
        async with new_client(base_url, connections=max(64, s.closed_loop_clients)) as client:
            warm = await self.step(
                f"warm-up: {WARM_UP_REQUESTS} sequential POST /bkms",
                lambda: warm_up(client, commands, WARM_UP_REQUESTS),
            )
            for other in base_urls[1:]:
                async with new_client(other, connections=1) as other_client:
                    await warm_up(other_client, commands, WARM_UP_REQUESTS)
            before = await self.step(
                "reading Postgres counters", lambda: counters(s.admin_url, database_url, db)
            )
            generator = await asyncio.to_thread(vegeta.binary)

            async def open_loop_on(urls: list[str]) -> LoadResult:
                if generator:
                    return await vegeta.open_loop(
                        generator, urls, commands, s.open_loop_rate, s.open_loop_seconds
                    )
                if len(urls) > 1:
                    raise RuntimeError("spreading over replicas needs vegeta")
                return await open_loop(client, commands, s.open_loop_rate, s.open_loop_seconds)

            how = "vegeta" if generator else "Python client: vegeta unavailable"
            opened = await self.step(
                f"open loop, one process: POST /bkms at {s.open_loop_rate:.0f}/s for"
                f" {s.open_loop_seconds:.0f}s ({how})",
                lambda: open_loop_on([base_url]),
            )
            # Requests cancelled at the end of the open loop may still be running in the
            # service; let it drain so they do not count against the next load.
            await asyncio.sleep(SETTLE_SECONDS)
            spread = None
            if len(base_urls) > 1:
                spread = await self.step(
                    f"open loop, {len(base_urls)} replicas: POST /bkms at"
                    f" {s.open_loop_rate:.0f}/s for {s.open_loop_seconds:.0f}s ({how})",
                    lambda: open_loop_on(base_urls),
                )
                await asyncio.sleep(SETTLE_SECONDS)
            closed = await self.step(
                f"closed loop: {s.closed_loop_clients} clients for {s.closed_loop_seconds:.0f}s",
                lambda: closed_loop(client, commands, s.closed_loop_clients, s.closed_loop_seconds),
            )
        lag = await self.step(
            "waiting for the service's relay and projection to catch up",
            lambda: catch_up_seconds(database_url),
        )
        self.report.details["load"] = {
            name: None
            if result is None
            else {
                "requests": result.requests,
                "succeeded": len(result.latencies),
                "failures": dict(result.failures),
                "unfinished": result.unfinished,
                "elapsed_seconds": result.elapsed,
                "max_client_schedule_lag_seconds": result.max_schedule_lag,
            }
            for name, result in (
                ("warm_up", warm),
                ("open_loop", opened),
                ("open_loop_replicas", spread),
                ("closed_loop", closed),
            )
        }
        after = await self.step(
            "reading Postgres counters", lambda: counters(s.admin_url, database_url, db)
        )
        churn = after.per_event_since(before) if after and before else None
        for result in (warm, opened, spread, closed):
            if result is not None and result.failures:
                self.report.errors.append(
                    f"{result.failures.total()} failed requests: {result.failure_summary()}"
                )
        pg = self.report.details.get("postgres_inserts_per_second")
        for figure in figures.http(s, pg, opened, closed, lag, churn, spread=spread):
            self.report.add(figure)


async def _timed(action: Awaitable[None]) -> float:
    started = time.perf_counter()
    await action
    return time.perf_counter() - started


def main() -> int:
    from benchmarks.settings import from_environment

    settings = from_environment()
    bench = Bench(settings)
    try:
        report = asyncio.run(bench.run())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as failure:
        bench.report.errors.append(f"run: {type(failure).__name__}: {failure}")
        report = bench.report
    print()
    print(table(report))
    with contextlib.suppress(OSError):
        path = report.write_json(settings.output_dir)
        print(f"\nresults: {path}")
    print()
    misses = ", ".join(f.name for f in report.misses) or "none"
    print(f"targets missed: {misses}")
    if report.errors:
        print(f"ERRORS ({len(report.errors)}):")
        for error in report.errors:
            print(f"  - {error}")
        return 1
    print("no errors")
    return 0
