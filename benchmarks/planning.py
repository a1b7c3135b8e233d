"""Planning's bench: "activities seeking funding" over HTTP with 100,000 activities stored.

The read model is loaded through planning's own code: 500 real `Plan` aggregates (draft, ten
activities, submission, endorsement, then channelling, matches and agreements) produce their
domain events in memory, and `PlanningLists.apply` (the projection the service runs) writes
their rows in pipelined transactions. Every other BKM's plan is a COPY of one of those plans'
rows with fresh ids and the BKM's own kelurahan code, so every row has a shape the projection
wrote. The event store stays empty: the service's projection has nothing to catch up.

A mix of filters (region prefixes, aspect, kind, status, amount ranges, keyset paging) runs
first directly against Postgres through `readmodel.seeking_funding_page` on one connection
(the raw baseline of the run), then the very same pages go over HTTP to the service in its own
process, sent by vegeta at a fixed rate (httpx one at a time when vegeta is missing), with a
GET /healthz every fourth page as the service's HTTP floor at that moment.

`python -m benchmarks.planning` is that service process: planning's real app as `build_api`
builds it from `SPEC`, served by uvicorn, without its Kafka consumers, so that a bench never
joins the live `planning` consumer group (nor reads other services' events into its
throw-away database).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import json
import math
import os
import random
import subprocess
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args
from urllib.parse import urlencode

import httpx
import psycopg
from salur_contracts.values import ActivityKind, Aspect
from salur_kit.auth import Role
from salur_kit.devtokens import ensure_issuer
from salur_planning.domain import Activity, Plan
from salur_planning.readmodel import PlanningLists, seeking_funding_page

from benchmarks import baselines, vegeta
from benchmarks.load import new_client
from benchmarks.report import Figure
from benchmarks.resources import fresh_database
from benchmarks.service import registry_process
from benchmarks.stats import percentile

if TYPE_CHECKING:
    from benchmarks.runner import Bench

ENTRY_POINT = "benchmarks.planning"
PATH = "/activities/seeking-funding"
PER_PLAN = 10
PLANS_PER_TRANSACTION = 250
# Plans written event by event through the projection; every other plan copies one of them.
PROJECTED_PLANS = 500
WARM_UP_QUERIES = 50
IDLE_SECONDS = 3.0
SEED = 20261129
ASPECTS: tuple[str, ...] = get_args(Aspect)
KINDS: tuple[str, ...] = get_args(ActivityKind)
# Kemendagri province codes; Java's (31-36) hold most urban kelurahan, so they weigh more.
PROVINCES = {
    **{code: 1 for code in ("11", "12", "13", "14", "15", "16", "17", "18", "19", "21")},
    **{code: 6 for code in ("31", "32", "33", "34", "35", "36")},
    **{code: 1 for code in ("51", "52", "53", "61", "62", "63", "64", "65", "71", "72")},
    **{code: 1 for code in ("73", "74", "75", "76", "81", "82", "91", "92", "94")},
}


# -- the read model, loaded through planning's own code --------------------------------------


def kelurahan_codes(rng: random.Random, count: int) -> list[str]:
    """One kelurahan code per BKM: 8 cities or regencies per province, 15 kecamatan each."""
    provinces = list(PROVINCES)
    weights = list(PROVINCES.values())
    codes = []
    for _ in range(count):
        province = rng.choices(provinces, weights)[0]
        city = rng.choice(("01", "02", "03", "04", "71", "72", "73", "74"))
        kecamatan = rng.randint(1, 15)
        kelurahan = rng.choice((1000, 2000)) + rng.randint(1, 20)
        codes.append(f"{province}.{city}.{kecamatan:02d}.{kelurahan}")
    return codes


def _money(value: float) -> Decimal:
    return Decimal(round(value, -3)).quantize(Decimal("0.01"))


def _activity(rng: random.Random, region: str, rank: int) -> Activity:
    cost = _money(math.exp(rng.uniform(math.log(10e6), math.log(2e9))))
    total = rng.randint(20, 2000)
    return Activity(
        title=f"Kegiatan {rank}",
        description="",
        aspect=rng.choice(ASPECTS),
        kind=rng.choice(KINDS),
        location_region_code=region,
        rw=f"{rng.randint(1, 20):03d}",
        rt=None,
        poor_households=rng.randint(0, total // 3),
        women=rng.randint(0, total // 2),
        total_people=total,
        estimated_cost=cost,
        swadaya_amount=None,
        swadaya_percent=Decimal(rng.choice((5, 10, 15, 20))),
        blm_amount=_money(float(cost) * rng.uniform(0, 0.2)),
        planned_year=rng.randint(2026, 2028),
        priority=rank,
    )


def plan_events(rng: random.Random, region: str) -> list[Any]:
    """The domain events of one endorsed plan whose activities went different ways:
    about 10% never opened, 5% withdrawn, 20% matched, 10% partly and 7% fully funded,
    the rest seeking funding."""
    plan = Plan(
        id=uuid.uuid4(),
        bkm_id=uuid.uuid4(),
        region_code=region,
        start_year=2026,
        end_year=2028,
        drafted_by="bench",
    )
    for rank in range(1, PER_PLAN + 1):
        plan.add_activity(uuid.uuid4(), _activity(rng, region, rank))
    plan.submit("bench")
    plan.endorse(
        meeting_date=dt.date(2026, 1, 10),
        attendance=80,
        minutes_sha256="ab" * 32,
        endorsed_by="bench",
        today=dt.date(2026, 2, 1),
    )
    for activity_id, activity in list(plan.activities.items()):
        fate = rng.random()
        if fate < 0.10:
            continue
        needed = activity.estimated_cost - activity.planned_funding
        plan.open_channelling(activity_id, needed, "bench")
        if fate < 0.15:
            plan.withdraw_channelling(activity_id, "bench")
        elif fate < 0.35:
            for _ in range(rng.randint(1, 3)):
                score = rng.randint(1000, 9500)
                plan.record_match(activity_id, uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), score)
        elif fate < 0.52:
            share = Decimal("0.5") if fate < 0.45 else Decimal(1)
            amount = (needed * share).quantize(Decimal("0.01"))
            plan.record_agreement(activity_id, uuid.uuid4(), uuid.uuid4(), "PT Mitra", amount)
    return list(plan.collect_events())


@dataclass(frozen=True)
class Loaded:
    activities: int
    projected: int
    seeking: int
    matched: int
    events: int
    seconds: float


COLUMNS = (
    "activity_id, plan_id, bkm_id, bkm_region_code, plan_version, title, aspect, kind,"
    " region_code, planned_year, priority, estimated_cost, funding_status, amount_needed,"
    " committed, outstanding"
)


async def project(
    conn: psycopg.AsyncConnection[Any], regions: Sequence[str], rng: random.Random
) -> int:
    """Plans' events through `PlanningLists.apply`, pipelined, a transaction per batch."""
    projection = PlanningLists()
    events = 0
    for first in range(0, len(regions), PLANS_PER_TRANSACTION):
        batch = [plan_events(rng, r) for r in regions[first : first + PLANS_PER_TRANSACTION]]
        async with conn.transaction(), conn.pipeline():
            for plan in batch:
                for event in plan:
                    await projection.apply(conn, event)
                events += len(plan)
    return events


async def copy_plans(
    conn: psycopg.AsyncConnection[Any], regions: Sequence[str], rng: random.Random
) -> None:
    """One projected plan's rows per BKM, with fresh ids and that BKM's kelurahan code."""
    cur = await conn.execute(f"SELECT {COLUMNS} FROM planning_activity ORDER BY seq")
    templates: dict[Any, list[tuple[Any, ...]]] = defaultdict(list)
    for row in await cur.fetchall():
        templates[row[1]].append(row)
    plans = list(templates.values())
    async with (
        conn.transaction(),
        conn.cursor().copy(f"COPY planning_activity ({COLUMNS}) FROM STDIN") as copy,
    ):
        for region in regions:
            plan_id, bkm_id = uuid.uuid4(), uuid.uuid4()
            for row in rng.choice(plans):
                ids = (uuid.uuid4(), plan_id, bkm_id, region)
                await copy.write_row((*ids, *row[4:8], region, *row[9:]))


async def load_read_model(
    database_url: str, regions: Sequence[str], rng: random.Random, projected_plans: int
) -> Loaded:
    """The first plans through the projection's own code; the rest copied from their rows."""
    started = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for statement in PlanningLists.ddl:
            await conn.execute(statement)
        events = await project(conn, regions[:projected_plans], rng)
        await copy_plans(conn, regions[projected_plans:], rng)
        seconds = time.perf_counter() - started
        # What autovacuum does to a table that grew this much; the planner needs the figures.
        await conn.execute("VACUUM ANALYZE planning_activity")
        cur = await conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE outstanding > 0),"
            " count(*) FILTER (WHERE outstanding > 0 AND funding_status = 'matched')"
            " FROM planning_activity"
        )
        row = await cur.fetchone()
    assert row is not None
    return Loaded(row[0], projected_plans * PER_PLAN, row[1], row[2], events, seconds)


# -- the query mix -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    kind: str
    params: dict[str, str]
    pages: int


def _amounts(rng: random.Random) -> dict[str, str]:
    low = rng.choice((10, 25, 50, 100, 250)) * 1_000_000
    return {"min_amount": f"{low}.00", "max_amount": f"{low * rng.choice((2, 4, 10))}.00"}


def query_mix(rng: random.Random, regions: Sequence[str], count: int) -> list[Query]:
    """Filter mixes a BKM facilitator, a partner or matching would send, with paging."""

    def province() -> str:
        return rng.choice(regions)[:2]

    def city() -> str:
        return rng.choice(regions)[:5]

    makers: dict[str, tuple[int, Callable[[], dict[str, str]]]] = {
        "city": (20, lambda: {"region": city()}),
        "kecamatan": (10, lambda: {"region": rng.choice(regions)[:8]}),
        "province+aspect": (10, lambda: {"region": province(), "aspect": rng.choice(ASPECTS)}),
        "city+aspect+kind": (
            20,
            lambda: {"region": city(), "aspect": rng.choice(ASPECTS), "kind": rng.choice(KINDS)},
        ),
        "province+kind+amount": (
            10,
            lambda: {"region": province(), "kind": rng.choice(KINDS), **_amounts(rng)},
        ),
        "aspect+amount": (10, lambda: {"aspect": rng.choice(ASPECTS), **_amounts(rng)}),
        "amount": (5, lambda: _amounts(rng)),
        "province+matched": (10, lambda: {"region": province(), "status": "matched"}),
        "no filter": (5, dict),
    }
    kinds = list(makers)
    weights = [makers[k][0] for k in kinds]
    queries = []
    for _ in range(count):
        kind = rng.choices(kinds, weights)[0]
        params = makers[kind][1]()
        params["limit"] = str(rng.choices((50, 20, 100, 200), (7, 1, 1, 1))[0])
        queries.append(Query(kind, params, pages=rng.choices((1, 2, 3), (85, 10, 5))[0]))
    return queries


def wrong_items(params: dict[str, str], items: Sequence[dict[str, Any]]) -> int:
    """Items that do not satisfy the filters (a fast wrong answer is a failure)."""
    region = params.get("region")
    low = Decimal(params.get("min_amount", "0"))
    high = Decimal(params["max_amount"]) if "max_amount" in params else None
    wrong = 0
    for item in items:
        outstanding = Decimal(str(item["outstanding"]))
        ok = (
            outstanding > 0
            and outstanding >= low
            and (high is None or outstanding <= high)
            and (region is None or f"{item['region_code']}.".startswith(f"{region}."))
            and all(item[k] == params[k] for k in ("aspect", "kind") if k in params)
            and ("status" not in params or item["funding_status"] == params["status"])
        )
        wrong += not ok
    return wrong


@dataclass
class Timings:
    """Seconds per page, by query kind; failures count as infinitely slow."""

    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: Counter[str] = field(default_factory=Counter)
    items: int = 0
    service_cpu_seconds: float | None = None
    service_idle_cpu_per_second: float = 0.0
    floor: list[float] = field(default_factory=list)
    pages: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    client: str = "Python client (httpx), one request at a time"

    def record(self, kind: str, seconds: float) -> None:
        self.latencies.append(seconds)
        self.by_kind[kind].append(seconds)

    def fail(self, kind: str, reason: str) -> None:
        self.failures[reason[:160]] += 1
        self.record(kind, math.inf)

    def ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000


Fetched = Callable[[], tuple[list[dict[str, Any]], int | None]]
"""Decodes a fetched page (outside the timing: the client's JSON parsing is not the service's)."""
Page = Callable[[dict[str, str]], Awaitable[Fetched]]


async def run_queries(queries: Sequence[Query], page: Page) -> Timings:
    """Every query, its pages one after another (following `next_after`), one at a time."""
    timings = Timings()
    for query in queries:
        after: int | None = 0
        for _ in range(query.pages):
            params = {**query.params, "after": str(after)}
            started = time.perf_counter()
            try:
                fetched = await page(params)
                elapsed = time.perf_counter() - started
                items, after = fetched()
            except Exception as error:
                timings.fail(query.kind, f"{type(error).__name__}: {error}")
                break
            timings.record(query.kind, elapsed)
            timings.pages.append((query.kind, params))
            timings.items += len(items)
            if wrong := wrong_items(params, items):
                timings.fail(query.kind, f"{wrong} items outside the filters {params}")
            if after is None:
                break
    return timings


def http_pages(client: httpx.AsyncClient, token: str, floor: list[float] | None = None) -> Page:
    """Pages over HTTP; with `floor`, every fourth page is preceded by a timed GET /healthz
    (no auth, no database): the service's HTTP floor on this machine at this moment."""
    headers = {"Authorization": f"Bearer {token}"}
    pages = 0

    async def page(params: dict[str, str]) -> Fetched:
        nonlocal pages
        pages += 1
        if floor is not None and pages % 4 == 0:
            started = time.perf_counter()
            if (await client.get("/healthz")).status_code == 200:
                floor.append(time.perf_counter() - started)
        response = await client.get(PATH, params=params, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:100]}")

        def decoded() -> tuple[list[dict[str, Any]], int | None]:
            body = response.json()
            return body["items"], body["next_after"]

        return decoded

    return page


def sql_pages(conn: psycopg.AsyncConnection[Any]) -> Page:
    """The service's own query function on one connection, without HTTP or auth."""

    async def page(params: dict[str, str]) -> Fetched:
        found = await seeking_funding_page(
            conn,
            region_prefix=params.get("region"),
            aspect=params.get("aspect"),
            kind=params.get("kind"),
            status=params.get("status"),
            min_amount=Decimal(params["min_amount"]) if "min_amount" in params else None,
            max_amount=Decimal(params["max_amount"]) if "max_amount" in params else None,
            after=int(params["after"]),
            limit=int(params["limit"]),
        )
        return lambda: (json.loads(found.items_json), found.next_after)

    return page


# -- figures -----------------------------------------------------------------------------------


def _ratio(value: float, baseline: float | None) -> float | None:
    return value / baseline if baseline and math.isfinite(value) else None


def figures(
    bench: Bench, loaded: Loaded, raw: Timings, served: Timings, pg: float | None
) -> list[Figure]:
    s = bench.settings
    target = s.targets.planning_seeking_p95_ms
    commit_ms = 1000 / pg if pg else None
    rows = [
        Figure(
            "planning read model load",
            loaded.activities / loaded.seconds,
            "activities/s",
            _ratio(loaded.activities / loaded.seconds, pg),
            "raw Postgres inserts/s",
            note=f"{loaded.activities:,} activities ({loaded.seeking:,} seeking funding, "
            f"{loaded.matched:,} of them matched), 10 per endorsed plan, in {loaded.seconds:.1f}s:"
            f" {loaded.projected:,} written by PlanningLists.apply (the service's projection) "
            f"from the {loaded.events:,} domain events of real Plan aggregates, pipelined; "
            f"the rest by COPY of those rows (one projected plan per BKM) with fresh ids and "
            "the BKM's own kelurahan code",
        )
    ]
    for name, p in (("p50", 50.0), ("p95", 95.0), ("p99", 99.0)):
        note = (
            f"readmodel.seeking_funding_page for the same {len(raw.latencies):,} pages from the"
            " bench's own Python client on one connection: the query without HTTP or auth"
        )
        rows.append(
            Figure(
                f"seeking-funding raw SQL {name}",
                raw.ms(p),
                "ms",
                1.0,
                "(baseline)",
                note=note if name == "p95" else "",
            )
        )
    for name, p in (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("max", 100.0)):
        value = served.ms(p)
        rows.append(
            Figure(
                f"seeking-funding HTTP {name}",
                value,
                "ms",
                _ratio(value, raw.ms(p)),
                f"raw SQL {name}",
                f"<= {target:.0f} ms" if name == "p95" else "",
                value <= target if name == "p95" else None,
                ""
                if name != "p95"
                else f"GET {PATH} with {len(served.latencies):,} pages of "
                f"{s.planning_queries:,} filter mixes sent by {served.client}; "
                f"{served.items:,} items returned; failures {served.failures.total()}"
                + (f"; {value / commit_ms:.1f}x one raw Postgres commit" if commit_ms else ""),
            )
        )
    for name, p in (("p50", 50.0), ("p95", 95.0)):
        if served.floor:
            value = percentile(served.floor, p) * 1000
            rows.append(
                Figure(
                    f"planning HTTP floor GET /healthz {name}",
                    value,
                    "ms",
                    _ratio(value, raw.ms(p)),
                    f"raw SQL {name}",
                    note=""
                    if name == "p50"
                    else f"{len(served.floor)} calls interleaved with the pages: no auth, no"
                    " database; what any request costs here now (other work on the machine"
                    " included)",
                )
            )
    if served.service_cpu_seconds is not None:
        rows.append(
            Figure(
                "planning service CPU per page",
                served.service_cpu_seconds * 1000 / len(served.latencies),
                "ms",
                note="user+system CPU of the service process over the measured pages, less what"
                f" it burns idle ({served.service_idle_cpu_per_second * 1000:.0f} ms/s of relay"
                " and projection polling, measured just before): what a page costs whatever"
                " else the machine is running; load average "
                + " ".join(f"{x:.1f}" for x in os.getloadavg()),
            )
        )
    return rows


def per_kind(timings: Timings) -> dict[str, dict[str, float | int | None]]:
    def finite(value: float) -> float | None:
        return round(value * 1000, 3) if math.isfinite(value) else None

    return {
        kind: {
            "pages": len(values),
            "p50_ms": finite(percentile(values, 50)),
            "p95_ms": finite(percentile(values, 95)),
            "max_ms": finite(max(values)),
        }
        for kind, values in sorted(timings.by_kind.items())
    }


# -- the step ----------------------------------------------------------------------------------


async def run(bench: Bench) -> None:
    """Load, serve, query; figures into the bench's report."""
    s = bench.settings
    with fresh_database(s.admin_url, s.planning_database) as database_url:
        pg = bench.report.details.get("postgres_inserts_per_second")
        if pg is None:
            pg = await bench.step(
                f"raw Postgres: {s.pg_rows:,} single-row autocommit inserts",
                lambda: asyncio.to_thread(
                    baselines.postgres_single_row_inserts, database_url, s.pg_rows
                ),
            )
        rng = random.Random(SEED)
        regions = kelurahan_codes(rng, s.planning_activities // PER_PLAN)
        loaded = await bench.step(
            f"planning: projecting {s.planning_activities:,} activities",
            lambda: load_read_model(database_url, regions, rng, PROJECTED_PLANS),
        )
        if loaded is None:
            return
        queries = query_mix(rng, regions, s.planning_queries)
        warm = query_mix(rng, regions, WARM_UP_QUERIES)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await run_queries(warm, sql_pages(conn))
            raw = await bench.step(
                f"planning: {len(queries):,} queries as raw SQL",
                lambda: run_queries(queries, sql_pages(conn)),
            )
        if raw is None:
            return
        served = await bench.step(
            f"planning: the same {len(raw.pages):,} pages over HTTP",
            lambda: _over_http(bench, database_url, warm, queries, raw),
        )
        if served is None:
            return
        bench.report.details["planning"] = {
            "loaded": dataclasses.asdict(loaded),
            "raw_sql_by_kind": per_kind(raw),
            "http_by_kind": per_kind(served),
            "http_failures": dict(served.failures),
        }
        for failure, n in served.failures.items():
            bench.report.errors.append(f"planning HTTP: {n}x {failure}")
        for figure in figures(bench, loaded, raw, served, pg):
            bench.report.add(figure)


async def _over_http(
    bench: Bench, database_url: str, warm: Sequence[Query], pages: Sequence[Query], raw: Timings
) -> Timings:
    s = bench.settings
    log_path = s.output_dir / f"planning-{s.run_id}.log"
    generator = await asyncio.to_thread(vegeta.binary)
    with tempfile.TemporaryDirectory(prefix="salur-bench-issuer-") as directory:
        issuer = ensure_issuer(Path(directory))
        token = issuer.token(role=Role.auditor, subject="bench")
        async with registry_process(
            database_url=database_url,
            bootstrap=s.bootstrap,
            jwks_path=issuer.jwks_path,
            log_path=log_path,
            module=ENTRY_POINT,
        ) as service:
            bench.progress(
                f"planning pid {service.pid} ready at {service.base_url} "
                f"in {service.started_in_seconds:.1f}s (log {log_path}); "
                + (f"vegeta at {s.planning_rate:g}/s" if generator else "no vegeta: httpx")
            )
            async with new_client(service.base_url, connections=4) as client:
                await run_queries(warm, http_pages(client, token))
                # What the service burns doing nothing (its relay and projection polling).
                cpu = cpu_seconds(service.pid)
                await asyncio.sleep(IDLE_SECONDS)
                idle_per_second = (cpu_seconds(service.pid) - cpu) / IDLE_SECONDS
                cpu, started = cpu_seconds(service.pid), time.perf_counter()
                if generator is not None:
                    timings = await asyncio.to_thread(
                        attack, generator, service.base_url, token, raw.pages, s.planning_rate
                    )
                else:
                    floor: list[float] = []
                    timings = await run_queries(pages, http_pages(client, token, floor))
                    timings.floor = floor
                elapsed = time.perf_counter() - started
                # The /healthz calls cost the service CPU too; they are a small share.
                busy = cpu_seconds(service.pid) - cpu - idle_per_second * elapsed
                timings.service_cpu_seconds = max(0.0, busy)
                timings.service_idle_cpu_per_second = idle_per_second
                return timings


Pages = Sequence[tuple[str, dict[str, str]]]


def attack(vegeta: Path, base_url: str, token: str, pages: Pages, rate: float) -> Timings:
    """The very pages the raw SQL pass read (same `after` values: the data does not change),
    sent by vegeta at `rate` per second by the clock, every fourth after a GET /healthz.

    Vegeta, not a Python client: on two busy cores a Python client's own scheduling delays
    (waking up to read each answer) land in the latencies it reports.
    """
    timings = Timings(client=f"vegeta, open loop at {rate:g}/s")
    kinds: dict[str, tuple[str, dict[str, str]]] = {}
    auth = {"Authorization": [f"Bearer {token}"]}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as targets:
        for i, (kind, params) in enumerate(pages):
            url = f"{base_url}{PATH}?{urlencode(params)}"
            kinds[url] = (kind, params)
            if i % 4 == 3:
                targets.write(json.dumps({"method": "GET", "url": f"{base_url}/healthz"}) + "\n")
            targets.write(json.dumps({"method": "GET", "url": url, "header": auth}) + "\n")
        targets.flush()
        hits = len(pages) + len(pages) // 4
        attacked = subprocess.run(
            [
                str(vegeta),
                "attack",
                "-format=json",
                f"-targets={targets.name}",
                f"-rate={rate:g}/s",
                f"-duration={hits / rate:.3f}s",
                "-timeout=10s",
                "-keepalive",
            ],
            capture_output=True,
            check=True,
        )
    encoded = subprocess.run(
        [str(vegeta), "encode", "-to=json"], input=attacked.stdout, capture_output=True, check=True
    )
    for line in encoded.stdout.decode().splitlines():
        hit = json.loads(line)
        seconds = hit["latency"] / 1e9
        if hit["url"].endswith("/healthz"):
            if hit["code"] == 200:
                timings.floor.append(seconds)
            continue
        kind, params = kinds[hit["url"]]
        if hit["code"] != 200:
            timings.fail(kind, f"HTTP {hit['code']} {hit['error']}")
            continue
        items = json.loads(base64.b64decode(hit["body"]))["items"]
        timings.record(kind, seconds)
        timings.items += len(items)
        if wrong := wrong_items(params, items):
            timings.fail(kind, f"{wrong} items outside the filters {params}")
    return timings


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve() -> None:
    """The service process of the bench: planning's real app, without Kafka consumers."""
    from salur_kit.runtime import serve as serve_spec
    from salur_planning.bootstrap import SPEC

    serve_spec(dataclasses.replace(SPEC, consumers=()))


if __name__ == "__main__":
    serve()
