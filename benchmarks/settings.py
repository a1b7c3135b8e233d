"""Where the bench finds Kafka and Postgres, what it aims for, and how big each step is."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_ADMIN_URL = "postgresql://salur:salur@127.0.0.1:55432/postgres"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


@dataclass(frozen=True)
class Targets:
    relay_events_per_second: float = 5000.0
    p99_ms_at_open_loop_rate: float = 50.0
    planning_seeking_p95_ms: float = 50.0
    platform_p50_ms: float = 100.0
    platform_p99_ms: float = 500.0
    platform_idle_rss_mb: float = 150.0


@dataclass(frozen=True)
class BenchSettings:
    run_id: str
    admin_url: str
    bootstrap: str
    output_dir: Path
    pg_rows: int = 3000
    kafka_messages: int = 30000
    relay_events: int = 20000
    topic_partitions: int = 6
    open_loop_rate: float = 100.0
    open_loop_seconds: float = 15.0
    # Replicas behind one address for the latency targets: one CPython process computes on
    # one core, and a deployment runs at least two (deploy/: 3 in production); one
    # process's figures are measured too, without the target.
    replicas: int = 2
    closed_loop_clients: int = 16
    closed_loop_seconds: float = 10.0
    targets: Targets = Targets()
    planning_activities: int = 100_000
    planning_queries: int = 2000
    planning_rate: float = 40.0
    # The whole platform (SALUR_BENCH_PLATFORM_SECONDS=10 for a short run while developing).
    platform_rate: float = 50.0
    platform_latency_seconds: float = 60.0
    platform_closed_seconds: float = 30.0
    platform_clients_per_service: int = 3
    platform_idle_seconds: float = 10.0
    # Steps to run (SALUR_BENCH_ONLY=planning,registry); empty runs every step.
    only: frozenset[str] = frozenset()

    def runs(self, step: str) -> bool:
        return not self.only or step in self.only

    @property
    def database(self) -> str:
        return f"bench_{self.run_id}"

    @property
    def service_database(self) -> str:
        return f"bench_{self.run_id}_http"

    @property
    def planning_database(self) -> str:
        return f"bench_{self.run_id}_planning"

    @property
    def topic_prefix(self) -> str:
        return f"salur.bench.{self.run_id}"


def from_environment(now: dt.datetime | None = None) -> BenchSettings:
    """`DATABASE_URL` (an admin URL) and `KAFKA_BOOTSTRAP_SERVERS` override the defaults;
    `SALUR_BENCH_ONLY` (comma-separated step names) runs only those steps;
    `SALUR_BENCH_REPLICAS` sets how many processes serve the latency runs (ADR 18)."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d_%H%M%S")
    platform_seconds = float(os.environ.get("SALUR_BENCH_PLATFORM_SECONDS") or 60.0)
    return BenchSettings(
        run_id=stamp,
        admin_url=os.environ.get("DATABASE_URL") or DEFAULT_ADMIN_URL,
        bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or DEFAULT_BOOTSTRAP,
        output_dir=Path(".data/bench"),
        only=frozenset(filter(None, os.environ.get("SALUR_BENCH_ONLY", "").split(","))),
        platform_latency_seconds=platform_seconds,
        platform_closed_seconds=platform_seconds / 2,
        replicas=int(os.environ.get("SALUR_BENCH_REPLICAS") or 2),
    )


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))
