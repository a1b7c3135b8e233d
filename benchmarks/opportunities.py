"""Opportunities: region-prefix and aspect filtering over 10,000 open opportunities.

The 10,000 are loaded straight into the service's read model with COPY (its own DDL, the
rows its projection would write), not through the application: the figure is about the
query, and loading through commands would take minutes on a shared machine. The service
then runs as a real process (`benchmarks.opportunities_service`: the production spec
without its Kafka consumers and scheduled close, so a bench never moves the real
consumer group) and is asked `GET /opportunities?region=<kelurahan>&aspect=<aspect>`
sequentially: the p95 of that is read against the target. The same query through
`readmodel.open_page` on one connection, and a raw primary-key SELECT, are measured in the
same run as the SQL share and the read baseline.

Run only this part with `SALUR_BENCH_ONLY=opportunities make bench`.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import psycopg
from salur_kit.auth import Role
from salur_kit.devtokens import ensure_issuer
from salur_opportunities import readmodel

from benchmarks import baselines
from benchmarks.report import Figure, Report
from benchmarks.resources import fresh_database
from benchmarks.service import registry_process
from benchmarks.settings import BenchSettings
from benchmarks.stats import percentile

OPEN_OPPORTUNITIES = 10_000
QUERIES = 400
WARM_UP = 30
P95_TARGET_MS = 30.0
SEED = 20261129

ASPECTS = ("environment", "economy", "social")
KINDS = (
    "drainage",
    "roads",
    "clean_water",
    "sanitation",
    "waste_management",
    "housing_rehabilitation",
    "public_facility",
    "revolving_loan",
    "skills_training",
    "business_development",
    "scholarship",
    "health",
    "nutrition",
    "elderly_care",
    "disaster_preparedness",
)
# A geography of 10 provinces x 10 cities x 10 districts x 10 kelurahan.
PROVINCES = ("11", "12", "13", "31", "32", "33", "34", "35", "36", "51")


class Bench(Protocol):
    settings: BenchSettings
    report: Report

    def progress(self, message: str) -> None: ...

    async def step(self, name: str, action: Callable[[], Awaitable[Any]]) -> Any: ...


def _code(rng: random.Random, depth: int) -> str:
    parts = [rng.choice(PROVINCES), f"{rng.randint(1, 10):02d}", f"{rng.randint(1, 10):02d}"]
    parts.append(f"{rng.randint(1001, 1010)}")
    return ".".join(parts[:depth])


def _opportunity(rng: random.Random, seq: int) -> tuple[tuple[Any, ...], list[str]]:
    """One open opportunity's row and eligible prefixes: 15% whole provinces, half whole
    cities, the rest districts; one to three prefixes, aspects and kinds each."""
    depths = rng.choices((1, 2, 3), weights=(15, 50, 35), k=rng.randint(1, 3))
    prefixes = sorted({_code(rng, depth) for depth in depths})
    aspects = sorted(rng.sample(ASPECTS, rng.randint(1, 3)))
    kinds = sorted(rng.sample(KINDS, rng.randint(1, 4)))
    low = rng.randint(1, 50) * 1_000_000
    envelope = low * rng.randint(10, 40)
    row = (
        seq,
        uuid.UUID(int=rng.getrandbits(128)),
        uuid.UUID(int=rng.getrandbits(128)),
        f"Mitra {seq % 500}",
        "open",
        1,
        f"Peluang {seq}",
        rng.choice(("apbd", "central_programme", "csr", "bank_credit", "grant", "in_kind")),
        "{" + ",".join(aspects) + "}",
        "{" + ",".join(kinds) + "}",
        "{" + ",".join(prefixes) + "}",
        f"{low}.00",
        f"{low * 4}.00",
        f"{envelope}.00",
        "0.00",
        f"{envelope}.00",
        "10",
        "2027-01-01",
        "2027-12-31",
    )
    return row, prefixes


def load_read_model(database_url: str, count: int = OPEN_OPPORTUNITIES) -> float:
    """COPY `count` open opportunities and their region rows; seconds taken (incl. VACUUM)."""
    rng = random.Random(SEED)
    rows = [_opportunity(rng, seq) for seq in range(1, count + 1)]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statement in readmodel.DDL:
            conn.execute(statement)
        started = time.perf_counter()
        with conn.transaction():
            with conn.cursor().copy(
                "COPY opportunity (seq, opportunity_id, partner_id, partner_name, status,"
                " revision, title, source_kind, aspects, activity_kinds, eligible_regions,"
                " min_amount, max_amount, envelope, committed, remaining,"
                " required_swadaya_percent, open_date, close_date) FROM STDIN"
            ) as copy:
                for row, _ in rows:
                    copy.write_row(row)
            with conn.cursor().copy(
                "COPY opportunity_open_region (prefix, seq, opportunity_id, aspects,"
                " activity_kinds, min_amount, max_amount, remaining) FROM STDIN"
            ) as copy:
                for row, prefixes in rows:
                    for prefix in prefixes:
                        copy.write_row((prefix, *row[:2], *row[8:10], *row[11:13], row[15]))
            conn.execute("SELECT setval('opportunity_seq_seq', %s)", (count,))
        # What autovacuum does after a bulk load: statistics, and the visibility map that
        # lets the covering region index answer without visiting the table.
        conn.execute("VACUUM ANALYZE opportunity")
        conn.execute("VACUUM ANALYZE opportunity_open_region")
        return time.perf_counter() - started


def _queries(count: int) -> list[tuple[str, str]]:
    rng = random.Random(SEED + 1)
    return [(_code(rng, 4), rng.choice(ASPECTS)) for _ in range(count)]


@dataclass(frozen=True)
class Timings:
    seconds: list[float]
    rows: list[int]

    def ms(self, p: float) -> float:
        return percentile(self.seconds, p) * 1000


async def sql_timings(database_url: str, queries: Sequence[tuple[str, str]]) -> Timings:
    """The service's own query function on one connection, no HTTP."""
    seconds, rows = [], []
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for region, aspect in queries:
            started = time.perf_counter()
            page = await readmodel.open_page(
                conn, region=region, aspect=aspect, kind=None, amount=None, after=0, limit=50
            )
            seconds.append(time.perf_counter() - started)
            rows.append(page.count('"opportunity_id"'))
    return Timings(seconds, rows)


async def point_select_timings(database_url: str, count: int) -> Timings:
    """The read baseline: one row by primary key on one connection."""
    seconds = []
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute("SELECT opportunity_id FROM opportunity LIMIT %s", (count,))
        ids = [row[0] for row in await cur.fetchall()]
        for opportunity_id in ids:
            started = time.perf_counter()
            await conn.execute(
                "SELECT * FROM opportunity WHERE opportunity_id = %s", (opportunity_id,)
            )
            seconds.append(time.perf_counter() - started)
    return Timings(seconds, [1] * len(seconds))


async def http_timings(
    base_url: str, token: str, queries: Sequence[tuple[str, str]]
) -> tuple[Timings, Timings, int]:
    """Sequential GETs of the open list, each after a GET /healthz (the service's HTTP floor
    under the same machine load at the same moment); failures counted, never timed."""
    seconds, rows, floor, failures = [], [], [], 0
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10.0) as client:
        for region, aspect in queries[:WARM_UP]:
            await client.get("/opportunities", params={"region": region, "aspect": aspect})
        for region, aspect in queries:
            started = time.perf_counter()
            await client.get("/healthz")
            floor.append(time.perf_counter() - started)
            started = time.perf_counter()
            response = await client.get(
                "/opportunities", params={"region": region, "aspect": aspect}
            )
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                failures += 1
                continue
            seconds.append(elapsed)
            rows.append(len(response.json()["items"]))
    return Timings(seconds, rows), Timings(floor, [0] * len(floor)), failures


def _ratio(value: float, baseline: float | None) -> float | None:
    return value / baseline if baseline else None


async def run(bench: Bench) -> None:
    """The whole step: load, serve, query, and add the figures to the report."""
    s = bench.settings
    with fresh_database(s.admin_url, f"bench_{s.run_id}_opportunities") as database_url:
        pg = bench.report.details.get("postgres_inserts_per_second")
        if pg is None:
            pg = await bench.step(
                f"raw Postgres: {s.pg_rows:,} single-row autocommit inserts",
                lambda: asyncio.to_thread(
                    baselines.postgres_single_row_inserts, database_url, s.pg_rows
                ),
            )
        loaded = await asyncio.to_thread(load_read_model, database_url)
        bench.progress(f"opportunities: {OPEN_OPPORTUNITIES:,} loaded by COPY in {loaded:.2f}s")
        queries = _queries(QUERIES)
        point = await point_select_timings(database_url, QUERIES)
        sql = await sql_timings(database_url, queries)
        with tempfile.TemporaryDirectory(prefix="salur-bench-issuer-") as directory:
            issuer = ensure_issuer(Path(directory))
            token = issuer.token(role=Role.public, subject="bench")
            log_path = s.output_dir / f"opportunities-{s.run_id}.log"
            async with registry_process(
                database_url=database_url,
                bootstrap=s.bootstrap,
                jwks_path=issuer.jwks_path,
                log_path=log_path,
                module="benchmarks.opportunities_service",
            ) as service:
                bench.progress(f"opportunities pid {service.pid} ready at {service.base_url}")
                over_http, floor, failures = await http_timings(service.base_url, token, queries)
    _figures(bench.report, pg, loaded, point, sql, over_http, floor, failures)


def _figures(
    report: Report,
    pg: float | None,
    loaded: float,
    point: Timings,
    sql: Timings,
    over_http: Timings,
    floor: Timings,
    failures: int,
) -> None:
    commit_ms = 1000 / pg if pg else None
    point_ms = point.ms(50)
    mean_rows = sum(over_http.rows) / len(over_http.rows) if over_http.rows else 0.0
    report.add(
        Figure(
            "opportunities read-model load (COPY)",
            OPEN_OPPORTUNITIES / loaded,
            "rows/s",
            _ratio(OPEN_OPPORTUNITIES / loaded, pg),
            "raw Postgres inserts/s",
            note=f"{OPEN_OPPORTUNITIES:,} open opportunities and their region rows straight "
            "into the read model by COPY (not through the application)",
        )
    )
    report.add(
        Figure(
            "raw Postgres point SELECT p50",
            point_ms,
            "ms",
            _ratio(point_ms, commit_ms),
            "raw Postgres commit time",
            note="read baseline: one opportunity row by primary key, one connection",
        )
    )
    for name, p in (("p50", 50.0), ("p95", 95.0), ("p99", 99.0)):
        report.add(
            Figure(
                f"opportunities region+aspect SQL {name}",
                sql.ms(p),
                "ms",
                _ratio(sql.ms(p), point_ms),
                "raw point SELECT p50",
                note="readmodel.open_page (the page as JSON) on one connection, no HTTP",
            )
        )
    for name, p in (("p50", 50.0), ("p95", 95.0)):
        report.add(
            Figure(
                f"service HTTP floor GET /healthz {name}",
                floor.ms(p),
                "ms",
                _ratio(floor.ms(p), commit_ms),
                "raw Postgres commit time",
                note="the same process and client, one before each list request: what any "
                "request costs on this machine at that moment",
            )
        )
    for name, p in (("p50", 50.0), ("p95", 95.0), ("p99", 99.0)):
        value = over_http.ms(p)
        is_p95 = name == "p95"
        report.add(
            Figure(
                f"opportunities GET region+aspect {name}",
                value,
                "ms",
                _ratio(value, commit_ms),
                "raw Postgres commit time",
                f"<= {P95_TARGET_MS:.0f} ms" if is_p95 else "",
                (value <= P95_TARGET_MS and failures == 0) if is_p95 else None,
                f"{len(over_http.seconds)} sequential GET /opportunities?region=<kelurahan>"
                f"&aspect=<aspect> over {OPEN_OPPORTUNITIES:,} open; {mean_rows:.0f} rows per "
                f"page (limit 50) on average; {failures} failed; "
                f"{_ratio(value, floor.ms(p)) or 0:.1f}x the HTTP floor's {name}",
            )
        )
    report.details["opportunities"] = {
        "open_opportunities": OPEN_OPPORTUNITIES,
        "queries": len(over_http.seconds),
        "failures": failures,
        "mean_rows": mean_rows,
        "load_seconds": loaded,
    }


class _Alone:
    """This step on its own (`python -m benchmarks.opportunities`), outside the runner."""

    def __init__(self, settings: BenchSettings) -> None:
        self.settings = settings
        self.report = Report(run_id=settings.run_id)
        self.started = time.perf_counter()

    def progress(self, message: str) -> None:
        print(f"[bench {time.perf_counter() - self.started:6.1f}s] {message}", flush=True)

    async def step(self, name: str, action: Callable[[], Awaitable[Any]]) -> Any:
        self.progress(f"{name} ...")
        return await action()


if __name__ == "__main__":
    from benchmarks.report import table
    from benchmarks.settings import from_environment

    alone = _Alone(from_environment())
    asyncio.run(run(alone))
    print(table(alone.report))
