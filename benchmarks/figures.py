"""Turning raw measurements into table rows, each read against its raw baseline."""

from __future__ import annotations

import statistics

from benchmarks.load import LoadResult
from benchmarks.report import Figure
from benchmarks.settings import BenchSettings
from benchmarks.stats import percentile

PG = "raw Postgres inserts/s"
KAFKA = "raw Kafka records/s"
PG_COMMIT = "raw Postgres commit time"


def _ratio(value: float | None, baseline: float | None) -> float | None:
    return value / baseline if value is not None and baseline else None


def baselines_and_relay(
    s: BenchSettings, pg: float | None, kafka: float | None, relay_runs: list[float]
) -> list[Figure]:
    """The relay figure is the median of its runs; the note gives each."""
    figures = []
    relay = statistics.median(relay_runs) if relay_runs else None
    if pg is not None:
        figures.append(Figure("Postgres single-row inserts", pg, "rows/s", 1.0, "(baseline)"))
    if kafka is not None:
        figures.append(Figure("Kafka raw producer", kafka, "records/s", 1.0, "(baseline)"))
    if relay is not None:
        target = s.targets.relay_events_per_second
        figures.append(
            Figure(
                "relay drain",
                relay,
                "events/s",
                _ratio(relay, kafka),
                KAFKA,
                f">= {target:,.0f}/s",
                relay >= target,
                f"median of {len(relay_runs)} drains of {s.relay_events:,} stored"
                f" BkmRegistered events ({', '.join(f'{r:,.0f}' for r in relay_runs)}/s),"
                f" each to a fresh topic of {s.topic_partitions} partitions",
            )
        )
    return figures


def _latencies(
    label: str, result: LoadResult, pg: float | None, p99_target: float | None
) -> list[Figure]:
    """p50/p95/p99/max in ms over every request (a failed one counts as infinitely slow);
    the ratio is to one raw Postgres commit (1 / insert rate)."""
    commit_ms = 1000 / pg if pg else None
    figures = []
    for name, p in (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("max", 100.0)):
        value = percentile(result.outcomes, p) * 1000
        target = p99_target if name == "p99" else None
        figures.append(
            Figure(
                f"{label} latency {name}",
                value,
                "ms",
                _ratio(value, commit_ms),
                PG_COMMIT,
                "" if target is None else f"<= {target:.0f} ms",
                None if target is None else value <= target,
            )
        )
    return figures


def _open_loop(
    s: BenchSettings, label: str, opened: LoadResult, pg: float | None, target: float | None
) -> list[Figure]:
    rate = Figure(
        f"{label} completed rate",
        opened.rate,
        "req/s",
        opened.rate / s.open_loop_rate,
        "scheduled rate",
        note=f"{opened.requests} POST /bkms at {s.open_loop_rate:.0f}/s by the clock; "
        + (
            f"Python client, latency from the scheduled send time, client lag max "
            f"{opened.max_schedule_lag * 1000:.1f} ms; "
            if opened.max_schedule_lag
            else "sent by vegeta, round robin over the replicas; "
        )
        + "failed or unanswered requests count as infinitely slow in the percentiles",
    )
    return [
        rate,
        *_latencies(label, opened, pg, target),
        Figure(f"{label} failed requests", opened.failures.total(), "requests"),
    ]


def http(
    s: BenchSettings,
    pg: float | None,
    opened: LoadResult | None,
    closed: LoadResult | None,
    lag: float | None,
    churn: tuple[float, float] | None = None,
    *,
    spread: LoadResult | None = None,
) -> list[Figure]:
    """`opened` is the open loop on one process; `spread`, when measured, the same load
    over `s.replicas` replicas, which then carries the latency target."""
    target = s.targets.p99_ms_at_open_loop_rate
    figures = []
    if opened is not None:
        label = "open loop" if spread is None else "open loop, one process"
        figures += _open_loop(s, label, opened, pg, target if spread is None else None)
    if spread is not None:
        figures += _open_loop(s, f"open loop, {s.replicas} replicas", spread, pg, target)
    if closed is not None:
        figures.append(
            Figure(
                "closed loop commands",
                closed.rate,
                "cmd/s",
                _ratio(closed.rate, pg),
                PG,
                note=f"{s.closed_loop_clients} clients, {closed.requests} POST /bkms "
                f"in {closed.elapsed:.1f}s",
            )
        )
        figures += _latencies("closed loop", closed, pg, None)
        figures.append(Figure("closed loop failed requests", closed.failures.total(), "requests"))
    if churn is not None:
        connections, commits = churn
        figures.append(
            Figure(
                "service Postgres connections opened",
                connections,
                "per command",
                note="pg_stat_database.sessions of the service database during the load, per"
                " stored event (one POST /bkms stores one); a pooled service opens ~0",
            )
        )
        figures.append(
            Figure(
                "service Postgres commits",
                commits,
                "per command",
                commits,
                "raw insert (1 commit)",
                note="pg_stat_database.xact_commit per stored event: command, idempotency,"
                " relay and projection transactions together",
            )
        )
    if lag is not None:
        figures.append(
            Figure(
                "service relay+projection catch-up",
                lag * 1000,
                "ms",
                note="after the load stopped, until both followers reached the newest event",
            )
        )
    return figures
