"""The whole platform (issue 8): six services as real processes, measured from one run.

1. Every service starts as `python -m salur_<name>` on a fresh database and a free port,
   its consumer groups at the shared topics' end (salur_kit.testing.platform, as the e2e
   test does). Audit first seals the shared topics' history into its fresh ledger; the
   bench waits until its ledger stops growing.
2. Idle resident memory: after a settle period with nothing sent, VmRSS of each process.
3. End-to-end latency at a fixed arrival rate (open loop): registry registers a BKM; the
   effect is the BKM showing in planning's own knowledge of BKMs (the `KnownBkm` aggregate
   its consumer commits with its tracking record, which planning's commands read). Vegeta
   sends when present (the Python client otherwise). Commit time is when the HTTP answer
   arrives; visible is the first poll (one SQL query every 10 ms for the rows planning's
   event store gained) that shows it.
4. Sustained commands/s: a closed loop of concurrent senders to registry, planning and
   opportunities at once; per service and in total, against the raw baselines of this run.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psycopg
from psycopg import sql
from salur_kit.devtokens import DevIssuer, ensure_issuer
from salur_kit.testing.platform import SERVICES, RunningPlatform, log_tail, running_platform

from benchmarks import baselines, platform_vegeta, vegeta
from benchmarks.load import new_client
from benchmarks.memory import megabytes, resident_kib
from benchmarks.platform_commands import BkmRegistrations, Cast, Command, Commands, mix, set_up
from benchmarks.report import Figure
from benchmarks.resources import fresh_database, fresh_topic
from benchmarks.stats import percentile
from benchmarks.visibility import EffectLedger, LatencySummary, arrival_schedule

if TYPE_CHECKING:
    from benchmarks.runner import Bench

# Where a registered BKM's effect shows: planning's KnownBkm (same id). Partnerships keeps
# one too and could be added; each downstream polled costs the bench ~0.6 ms of CPU a poll,
# taken from the services on a small machine.
DOWNSTREAMS = ("planning",)
POLL_SECONDS = 0.01
ANSWER_GRACE_SECONDS = 10.0
EFFECT_GRACE_SECONDS = 30.0
AUDIT_QUIET_SECONDS = 3.0
AUDIT_CATCH_UP_SECONDS = 600.0
PROGRESS_SECONDS = 10.0
MAX_IN_FLIGHT = 256
# Six Python processes starting at once on two busy cores have taken 75 s (150 s in the e2e).
READY_SECONDS = 300.0
LOOK_BACK = 20
QUIET_SECONDS = 2.0
QUIET_LIMIT_SECONDS = 120.0
BASELINE_PG_ROWS = 1000
BASELINE_KAFKA_RECORDS = 5000
COUNTS = frozenset({"effects", "commands"})
PG = "raw Postgres inserts/s"
KAFKA = "raw Kafka records/s"


@dataclass
class ServiceRate:
    """What one service answered in the closed loop."""

    succeeded: int = 0
    failures: Counter[str] = field(default_factory=Counter)


@dataclass
class Answers:
    """The open loop's HTTP answers: status counts, and seconds from each committed
    command's send to its answer (the sender's own lag is `max_schedule_lag`)."""

    statuses: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    in_flight: int = 0
    max_schedule_lag: float = 0.0

    @property
    def committed(self) -> int:
        return self.statuses["HTTP 201"]

    @property
    def failed(self) -> int:
        return self.statuses.total() - self.committed


@dataclass(frozen=True)
class ClosedLoop:
    by_service: dict[str, ServiceRate]
    elapsed: float
    senders: int

    @property
    def succeeded(self) -> int:
        return sum(rate.succeeded for rate in self.by_service.values())


async def run(bench: Bench) -> None:
    s = bench.settings
    pg, kafka = await _baselines(bench)
    logs = s.output_dir / f"platform-{s.run_id}"
    bench.report.details["platform_logs"] = str(logs)
    with tempfile.TemporaryDirectory(prefix="salur-bench-platform-") as directory:
        issuer = ensure_issuer(Path(directory) / "issuer")
        topic = f"{s.topic_prefix}.audit-checkpoints"
        async with fresh_topic(s.bootstrap, topic, 3) as checkpoints:
            bench.progress(f"starting {', '.join(SERVICES)} (logs in {logs}) ...")
            stack = contextlib.ExitStack()
            try:
                started = time.perf_counter()
                platform = await asyncio.to_thread(
                    stack.enter_context,
                    running_platform(
                        postgres_admin_url=s.admin_url,
                        kafka_bootstrap_servers=s.bootstrap,
                        jwks_path=issuer.jwks_path,
                        logs=logs,
                        audit_signing_key=Path(directory) / "audit" / "signing-key.pem",
                        audit_checkpoint_topic=checkpoints,
                        database_prefix=f"bench_{s.run_id}_platform",
                        group_prefix=f"bench-{s.run_id}",
                        ready_seconds=READY_SECONDS,
                    ),
                )
                bench.progress(
                    f"all six ready in {time.perf_counter() - started:.1f}s: "
                    + ", ".join(f"{n} pid {p}" for n, p in platform.pids.items())
                )
                await _measure(bench, platform, issuer, pg, kafka)
            finally:
                bench.progress("stopping the platform and dropping its databases ...")
                await asyncio.to_thread(stack.close)


async def _baselines(bench: Bench) -> tuple[float | None, float | None]:
    """The registry step's baselines when it ran in this process; otherwise small ones of
    our own, so the ratios always come from the same run."""
    s = bench.settings
    pg = bench.report.details.get("postgres_inserts_per_second")
    kafka = bench.report.details.get("kafka_records_per_second")
    if pg is None:
        with fresh_database(s.admin_url, f"bench_{s.run_id}_platform_raw") as url:
            pg = await bench.step(
                f"raw Postgres: {BASELINE_PG_ROWS:,} single-row autocommit inserts",
                lambda: asyncio.to_thread(
                    baselines.postgres_single_row_inserts, url, BASELINE_PG_ROWS
                ),
            )
        if pg is not None:
            bench.report.add(Figure("Postgres single-row inserts", pg, "rows/s", 1.0, "(baseline)"))
    if kafka is None:
        name = f"{s.topic_prefix}.platform-raw"
        async with fresh_topic(s.bootstrap, name, s.topic_partitions) as topic:
            kafka = await bench.step(
                f"raw Kafka producer: {BASELINE_KAFKA_RECORDS:,} records to {topic}",
                lambda: baselines.kafka_producer(s.bootstrap, topic, BASELINE_KAFKA_RECORDS),
            )
        if kafka is not None:
            bench.report.add(Figure("Kafka raw producer", kafka, "records/s", 1.0, "(baseline)"))
    return pg, kafka


async def _measure(
    bench: Bench,
    platform: RunningPlatform,
    issuer: DevIssuer,
    pg: float | None,
    kafka: float | None,
) -> None:
    s = bench.settings
    figures: list[Figure] = []
    audit_seconds, sealed = await _audit_caught_up(bench, platform.urls["audit"])
    bench.progress(f"idle for {s.platform_idle_seconds:.0f}s, nothing sent ...")
    await asyncio.sleep(s.platform_idle_seconds)
    figures += _idle_memory(bench, platform, sealed)

    day = dt.datetime.now(dt.UTC).date()
    bench.progress(f"setting up: a partner, {s.platform_clients_per_service} BKMs with plans ...")
    cast = await asyncio.to_thread(
        set_up, platform.urls, issuer, s.platform_clients_per_service, s.run_id, day
    )
    ledgers, answers = await _latency_run(bench, platform, cast)
    figures += _latency_figures(bench, ledgers, answers, pg)

    await _until_quiet(bench, {name: platform.database_urls[name] for name in DOWNSTREAMS})
    senders = mix(cast, s.platform_clients_per_service, s.run_id, day)
    closed = await _closed_loop(bench, platform, senders, s.platform_closed_seconds)
    figures += _throughput_figures(closed, pg, kafka)

    exited = platform.exited()
    for name, code in exited.items():
        tail = log_tail(platform.logs / f"{name}.log")
        bench.report.errors.append(f"platform: {name} exited with {code} during the run:\n{tail}")
    bench.report.details["platform"] = {
        "audit_catch_up_seconds": audit_seconds,
        "audit_entries_sealed": sealed,
        "latency_answers": dict(answers.statuses),
        "closed_loop": {
            name: {"succeeded": rate.succeeded, "failures": dict(rate.failures)}
            for name, rate in closed.by_service.items()
        },
    }
    for figure in figures:
        bench.report.add(figure)
    markdown = markdown_table(_baseline_figures(pg, kafka) + figures)
    bench.report.details["platform_markdown"] = markdown
    path = s.output_dir / f"platform-{s.run_id}.md"
    path.write_text(markdown + "\n")
    bench.progress(f"whole-platform table for the README in {path}:\n{markdown}")


# -- audit's history, then idle memory -------------------------------------------------------


async def _audit_caught_up(bench: Bench, audit_url: str) -> tuple[float, int]:
    """Until audit's fresh ledger stops growing: it seals the shared topics from offset 0,
    and a process still doing that is not idle."""
    started = time.perf_counter()
    last, quiet_since, shown = -1, time.perf_counter(), started
    async with httpx.AsyncClient(base_url=audit_url, timeout=10.0) as client:
        while True:
            size = int((await client.get("/ledger")).json()["size"])
            now = time.perf_counter()
            if size != last:
                last, quiet_since = size, now
            elif now - quiet_since >= AUDIT_QUIET_SECONDS:
                bench.progress(f"audit sealed the topics' history: {size:,} entries")
                return now - started, size
            if now - shown >= PROGRESS_SECONDS:
                bench.progress(f"audit sealing the shared topics' history: {size:,} entries ...")
                shown = now
            if now - started > AUDIT_CATCH_UP_SECONDS:
                raise RuntimeError(f"audit still sealing after {AUDIT_CATCH_UP_SECONDS:.0f}s")
            await asyncio.sleep(0.5)


def _idle_memory(bench: Bench, platform: RunningPlatform, sealed: int) -> list[Figure]:
    target = bench.settings.targets.platform_idle_rss_mb
    figures = []
    for name, pid in platform.pids.items():
        rss = megabytes(resident_kib(pid))
        bench.progress(f"{name} pid {pid}: VmRSS {rss:.0f} MB")
        figures.append(
            Figure(
                f"{name} idle resident memory",
                rss,
                "MB",
                target=f"<= {target:.0f} MB",
                passed=rss <= target,
                note=f"VmRSS of pid {pid} after {bench.settings.platform_idle_seconds:.0f}s idle"
                + (f", having sealed {sealed:,} entries of history" if name == "audit" else ""),
            )
        )
    return figures


# -- end-to-end latency ----------------------------------------------------------------------


async def _latency_run(
    bench: Bench, platform: RunningPlatform, cast: Cast
) -> tuple[dict[str, EffectLedger], Answers]:
    s = bench.settings
    rate, seconds = s.platform_rate, s.platform_latency_seconds
    ledgers = {name: EffectLedger() for name in DOWNSTREAMS}
    answers = Answers()
    commands = BkmRegistrations(cast.facilitator_token, f"{s.run_id} latency")
    stop = asyncio.Event()
    watchers = [
        asyncio.create_task(_watch(platform.database_urls[name], name, ledgers[name], stop))
        for name in DOWNSTREAMS
    ]
    generator = await asyncio.to_thread(vegeta.binary)
    bench.progress(
        f"open loop: POST /bkms at {rate:g}/s for {seconds:g}s"
        f" ({'vegeta' if generator else 'Python client: vegeta unavailable'}), new rows of"
        f" {' and '.join(DOWNSTREAMS)} polled every {POLL_SECONDS * 1000:g} ms ..."
    )
    try:
        url = platform.urls["registry"]
        if generator is not None:
            await _vegeta_open_loop(generator, url, commands, rate, seconds, ledgers, answers)
        else:
            await _python_open_loop(bench, url, commands, rate, seconds, ledgers, answers)
        deadline = time.time() + EFFECT_GRACE_SECONDS
        while any(ledger.unseen() for ledger in ledgers.values()):
            if time.time() > deadline:
                break
            await asyncio.sleep(0.1)
        bench.progress(_latency_progress(answers, ledgers))
    finally:
        stop.set()
        await asyncio.gather(*watchers)
    return ledgers, answers


async def _vegeta_open_loop(
    generator: Path,
    url: str,
    commands: BkmRegistrations,
    rate: float,
    seconds: float,
    ledgers: dict[str, EffectLedger],
    answers: Answers,
) -> None:
    """Vegeta sends; its results give each command's answer time (wall clock) afterwards,
    while the pollers have been noting when each new BKM showed."""
    sent = [commands.next() for _ in arrival_schedule(rate, seconds)]
    ids = [str(body["bkm_id"]) for _, body, _ in sent]
    for ledger in ledgers.values():
        for bkm_id in ids:
            ledger.send(bkm_id)
    results = await platform_vegeta.attack(generator, url, sent, rate, ANSWER_GRACE_SECONDS)
    answers.max_schedule_lag = platform_vegeta.schedule_lag(results, rate)
    for result in results:
        bkm_id = ids[result.seq]
        status = f"HTTP {result.status}" if result.status else (result.error or "no answer")
        answers.statuses[status[:120]] += 1
        for ledger in ledgers.values():
            if result.status == 201:
                ledger.commit(bkm_id, result.answered)
            else:
                ledger.fail(bkm_id, status)
        if result.status == 201:
            answers.seconds.append(result.latency)


async def _python_open_loop(
    bench: Bench,
    url: str,
    commands: BkmRegistrations,
    rate: float,
    seconds: float,
    ledgers: dict[str, EffectLedger],
    answers: Answers,
) -> None:
    """The fallback sender: tasks at a fixed schedule, each noting its answer time."""
    async with new_client(url, connections=MAX_IN_FLIGHT) as client:
        tasks: list[asyncio.Task[None]] = []
        started = shown = time.perf_counter()
        for offset in arrival_schedule(rate, seconds):
            delay = started + offset - time.perf_counter()
            # Behind schedule, still yield: the answers and the pollers must run.
            await asyncio.sleep(max(0.0, delay))
            lag = time.perf_counter() - (started + offset)
            answers.max_schedule_lag = max(answers.max_schedule_lag, lag)
            path, body, headers = commands.next()
            for ledger in ledgers.values():
                ledger.send(body["bkm_id"])
            if answers.in_flight >= MAX_IN_FLIGHT:
                # A client queue of thousands would measure the client (httpx's pool is
                # slow with many waiters), not the platform: count it as failed.
                reason = f"not sent: {MAX_IN_FLIGHT} commands already in flight"
                answers.statuses[reason] += 1
                for ledger in ledgers.values():
                    ledger.fail(body["bkm_id"], reason)
                continue
            send = _register(client, (path, body, headers), list(ledgers.values()), answers)
            tasks.append(asyncio.create_task(send))
            if (now := time.perf_counter()) - shown >= PROGRESS_SECONDS:
                bench.progress(_latency_progress(answers, ledgers))
                shown = now
        _, pending = await asyncio.wait(tasks, timeout=ANSWER_GRACE_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _register(
    client: httpx.AsyncClient,
    command: Command,
    ledgers: Sequence[EffectLedger],
    answers: Answers,
) -> None:
    path, body, headers = command
    bkm_id = str(body["bkm_id"])
    answers.in_flight += 1
    sent = time.time()
    try:
        response = await client.post(path, json=body, headers=headers)
    except (httpx.HTTPError, asyncio.CancelledError) as error:
        reason = "unanswered" if isinstance(error, asyncio.CancelledError) else type(error).__name__
        answers.statuses[reason] += 1
        for ledger in ledgers:
            ledger.fail(bkm_id, reason)
        if isinstance(error, asyncio.CancelledError):
            raise
        return
    finally:
        answers.in_flight -= 1
    at = time.time()
    answers.statuses[f"HTTP {response.status_code}"] += 1
    if response.status_code == 201:
        answers.seconds.append(at - sent)
    for ledger in ledgers:
        if response.status_code == 201:
            ledger.commit(bkm_id, at)
        else:
            ledger.fail(bkm_id, f"HTTP {response.status_code}")


def _latency_progress(answers: Answers, ledgers: dict[str, EffectLedger]) -> str:
    shown = ", ".join(f"{len(ledger.seen)} visible in {name}" for name, ledger in ledgers.items())
    answered = answers.statuses.total()
    return f"  {answered} answered ({answers.committed} committed), {shown}"


async def _watch(
    database_url: str, service: str, ledger: EffectLedger, stop: asyncio.Event
) -> None:
    """Note when each aggregate first shows in the downstream's event store, by reading the
    rows added since the last poll (wall clock, as vegeta's results are), until stopped.

    The recorder numbers rows in commit order (it locks the table to insert), so reading
    past the last number seen misses nothing; a small look-back is kept anyway."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        table = await _events_table(conn, service)
        query = sql.SQL(
            "SELECT notification_id, originator_id FROM {} WHERE notification_id > %s"
        ).format(sql.Identifier(table))
        newest = sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}")
        row = await (await conn.execute(newest.format(sql.Identifier(table)))).fetchone()
        last = int(row[0]) if row else 0
        while not stop.is_set():
            rows = await (await conn.execute(query, [last - LOOK_BACK])).fetchall()
            now = time.time()
            if rows:
                last = max(last, max(int(row[0]) for row in rows))
                ledger.see((str(row[1]) for row in rows), now)
            await asyncio.sleep(POLL_SECONDS)


async def _events_table(conn: psycopg.AsyncConnection[tuple[object, ...]], service: str) -> str:
    """The eventsourcing recorder's table of the service's stored events."""
    cursor = await conn.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public'"
        " AND column_name = 'originator_id' AND table_name LIKE '%%events' ORDER BY table_name"
    )
    tables = [str(row[0]) for row in await cursor.fetchall()]
    preferred = f"{service}_events"
    if preferred in tables:
        return preferred
    if len(tables) != 1:
        raise RuntimeError(f"{service}: no single event table among {tables}")
    return tables[0]


def _latency_figures(
    bench: Bench, ledgers: dict[str, EffectLedger], answers: Answers, pg: float | None
) -> list[Figure]:
    s = bench.settings
    t = s.targets
    figures = []
    for name, ledger in ledgers.items():
        summary = LatencySummary.of(ledger)
        label = f"commit -> visible in {name}"
        commit_ms = 1000 / pg if pg else None
        note = (
            f"registry POST /bkms at {s.platform_rate:g}/s for {s.platform_latency_seconds:g}s "
            f"(open loop), {len(ledger.committed)} committed, {summary.failed} failed and "
            f"{summary.never_seen} never visible (both counted as infinitely slow); commit = "
            f"answer received, visible = first of the polls every {POLL_SECONDS * 1000:g} ms; "
            f"client schedule lag max {answers.max_schedule_lag * 1000:.1f} ms"
        )
        for key, value, target in (
            ("p50", summary.p50_ms, t.platform_p50_ms),
            ("p95", summary.p95_ms, None),
            ("p99", summary.p99_ms, t.platform_p99_ms),
            ("max", summary.max_ms, None),
        ):
            figures.append(
                Figure(
                    f"{label} {key}",
                    value,
                    "ms",
                    value / commit_ms if commit_ms else None,
                    "raw Postgres commit time",
                    "" if target is None else f"<= {target:.0f} ms",
                    None if target is None else value <= target,
                    note if key == "p50" else "",
                )
            )
        figures.append(Figure(f"{label}: never visible", summary.never_seen, "effects"))
    figures.append(Figure("open-loop commands failed", answers.failed, "commands"))
    figures.append(
        Figure(
            "open-loop sender behind schedule, max",
            answers.max_schedule_lag * 1000,
            "ms",
            note="how late the bench itself sent its latest command: more than a few ms means"
            " the machine starved the sender too, and the arrival rate was not held",
        )
    )
    # Where the time goes: the registry's own answer.
    for key, p in (("p50", 50.0), ("p99", 99.0)):
        figures.append(
            Figure(
                f"registry answer {key} (open loop)",
                percentile(answers.seconds, p) * 1000,
                "ms",
                note="from each committed command's send to its answer; "
                f"{answers.failed} failed or unanswered commands left out"
                if key == "p50"
                else "",
            )
        )
    if answers.failed:
        bench.report.errors.append(
            f"platform latency run: {answers.failed} commands failed: {dict(answers.statuses)}"
        )
    return figures


async def _until_quiet(bench: Bench, database_urls: dict[str, str]) -> None:
    """Until the downstream stores stop growing: commands the open loop gave up on may still
    be running, and must not count against the closed loop."""
    started = time.perf_counter()
    last: dict[str, int] = {}
    quiet_since = started
    while time.perf_counter() - quiet_since < QUIET_SECONDS:
        counts = {name: await _stored_events(url, name) for name, url in database_urls.items()}
        if counts != last:
            last, quiet_since = counts, time.perf_counter()
        if time.perf_counter() - started > QUIET_LIMIT_SECONDS:
            bench.progress(f"still busy after {QUIET_LIMIT_SECONDS:.0f}s: {counts}; going on")
            return
        await asyncio.sleep(0.5)
    bench.progress(f"quiet after {time.perf_counter() - started:.1f}s: stored events {last}")


async def _stored_events(database_url: str, service: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        table = await _events_table(conn, service)
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        row = await (await conn.execute(query)).fetchone()
        return int(row[0]) if row else 0


# -- sustained commands/s --------------------------------------------------------------------


async def _closed_loop(
    bench: Bench, platform: RunningPlatform, senders: list[Commands], seconds: float
) -> ClosedLoop:
    services = sorted({sender.service for sender in senders})
    by_service = {name: ServiceRate() for name in services}
    bench.progress(
        f"closed loop: {len(senders)} senders ({len(senders) // len(services)} each to"
        f" {', '.join(services)}) for {seconds:g}s ..."
    )
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(new_client(platform.urls[name], connections=16))
            for name in services
        }
        started = time.perf_counter()
        deadline = started + seconds

        async def sender(commands: Commands) -> None:
            rate = by_service[commands.service]
            client = clients[commands.service]
            while time.perf_counter() < deadline:
                path, body, headers = commands.next()
                try:
                    response = await client.post(path, json=body, headers=headers)
                except httpx.HTTPError as error:
                    rate.failures[type(error).__name__] += 1
                    continue
                if response.status_code == 201:
                    rate.succeeded += 1
                else:
                    rate.failures[f"HTTP {response.status_code}: {response.text[:120]}"] += 1

        async def progress() -> None:
            while True:
                await asyncio.sleep(PROGRESS_SECONDS)
                done = ", ".join(f"{n} {r.succeeded}" for n, r in by_service.items())
                bench.progress(f"  {time.perf_counter() - started:.0f}s: {done}")

        reporter = asyncio.create_task(progress())
        try:
            await asyncio.gather(*(sender(commands) for commands in senders))
        finally:
            reporter.cancel()
        elapsed = time.perf_counter() - started
    for name, rate in by_service.items():
        if rate.failures:
            summary = "; ".join(f"{n}x {what}" for what, n in rate.failures.most_common(3))
            bench.report.errors.append(f"platform closed loop, {name}: {summary}")
    return ClosedLoop(by_service, elapsed, len(senders))


def _throughput_figures(closed: ClosedLoop, pg: float | None, kafka: float | None) -> list[Figure]:
    def ratio(value: float, baseline: float | None) -> float | None:
        return value / baseline if baseline else None

    total = closed.succeeded / closed.elapsed
    figures = [
        Figure(
            "platform commands, all services",
            total,
            "cmd/s",
            ratio(total, pg),
            PG,
            note=f"closed loop, {closed.senders} senders, {closed.succeeded} commands in "
            f"{closed.elapsed:.1f}s, one event each",
        )
    ]
    if kafka:
        figures.append(
            Figure("platform commands, all (vs Kafka)", total, "cmd/s", total / kafka, KAFKA)
        )
    for name, rate in closed.by_service.items():
        value = rate.succeeded / closed.elapsed
        figures.append(Figure(f"platform commands, {name}", value, "cmd/s", ratio(value, pg), PG))
    return figures


def _baseline_figures(pg: float | None, kafka: float | None) -> list[Figure]:
    figures = []
    if pg is not None:
        figures.append(Figure("raw Postgres single-row inserts", pg, "rows/s", 1.0, "(baseline)"))
    if kafka is not None:
        figures.append(Figure("raw Kafka producer", kafka, "records/s", 1.0, "(baseline)"))
    return figures


# -- the README's table ----------------------------------------------------------------------


def markdown_table(figures: Sequence[Figure]) -> str:
    """The figures as a GitHub table the README takes as it is."""
    lines = [
        "| figure | value | ratio to the raw baseline | target | verdict |",
        "|---|---:|---|---|---|",
    ]
    for f in figures:
        ratio = (
            "" if f.ratio is None or not math.isfinite(f.ratio) else f"{f.ratio:.3f}x {f.ratio_to}"
        )
        lines.append(f"| {f.name} | {_cell(f)} | {ratio} | {f.target} | {f.verdict} |")
    return "\n".join(lines)


def _cell(figure: Figure) -> str:
    value = figure.value
    if math.isinf(value):
        return "∞"  # a failed command or an effect that never showed counts infinitely slow
    if math.isnan(value):
        return "-"
    whole = figure.unit in COUNTS or abs(value) >= 100
    shown = f"{value:,.0f}" if whole else f"{value:,.1f}"
    return f"{shown} {figure.unit}"
