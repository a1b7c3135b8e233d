"""Partnerships' bench: the disbursement command at 50 requests/s while the relay runs, and
the totals of a partner with 10,000 partnerships.

Agreements in force are seeded through partnerships' own application (facts told through
the tracked effects, then proposal, acceptance, agreement and both signatures), one per
disbursement to send. The totals read model is loaded through `PartnershipTotals.apply`
(the projection the service runs) from the events of real `Agreement` aggregates built in
memory: 10,000 for the measured partner and more for other partners.

`python -m benchmarks.partnerships` is the service process: partnerships' real app as
`build_api` builds it from `SPEC` (relay and projection running), without Kafka consumers,
and with the relay aimed at a throw-away topic, so bench agreements never reach the live
consumers of `salur.partnerships.events.v1` (planning, opportunities, audit).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import math
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from eventsourcing.persistence import Tracking
from salur_contracts import opportunities, planning, registry
from salur_contracts.base import IntegrationEvent
from salur_contracts.cloudevents import new_envelope
from salur_kit import positions
from salur_kit.auth import Principal, Role
from salur_kit.consumer import EventSourcedEffects
from salur_kit.devtokens import ensure_issuer
from salur_kit.eventstore import postgres_env
from salur_partnerships.application import PartnershipsApplication
from salur_partnerships.domain import Agreement, Terms
from salur_partnerships.readmodel import PartnershipTotals, totals

from benchmarks import baselines, vegeta
from benchmarks.figures import _latencies
from benchmarks.load import LoadResult, new_client
from benchmarks.report import Figure
from benchmarks.resources import fresh_database, fresh_topic
from benchmarks.service import replica_processes
from benchmarks.stats import percentile

if TYPE_CHECKING:
    from benchmarks.runner import Bench

ENTRY_POINT = "benchmarks.partnerships"
TOPIC_VARIABLE = "SALUR_BENCH_PARTNERSHIPS_TOPIC"
RATE = 50.0
SECONDS = 15.0
WARM_UP = 20
# Between the two open loops, so that what the first left running does not count in the second.
SETTLE_SECONDS = 3.0
DISBURSE_P99_MS = 50.0
TOTALS_P99_MS = 50.0
PARTNER_AGREEMENTS = 10_000
OTHER_AGREEMENTS = 5_000
OTHER_PARTNERS = 50
TOTALS_QUERIES = 500
PER_TRANSACTION = 500
REGION = "32.73.01.1001"
ACCOUNT = "0123456789"
SHA = "ab" * 32
AMOUNT = Decimal("25000000.00")
FOLLOWERS = ("relay", f"projection:{PartnershipTotals.name}")


def _fact(event: type[IntegrationEvent], **values: Any) -> IntegrationEvent:
    examples = {n: f.examples[0] for n, f in event.model_fields.items() if f.examples}
    return event.model_validate({**examples, **values})


def _terms(amount: Decimal) -> Terms:
    return Terms(
        amount=amount,
        tranches=[{"number": 1, "amount": amount, "condition": "ditandatangani"}],
        report_before_next_tranche=True,
        reporting_duty="Laporan akhir",
        start_date=dt.date(2027, 2, 1),
        end_date=dt.date(2027, 12, 31),
        document_sha256=SHA,
    )


@dataclass(frozen=True)
class Seeded:
    partner_id: uuid.UUID
    agreements: list[uuid.UUID]
    seconds: float


def seed_agreements(database_url: str, count: int) -> Seeded:
    """`count` agreements in force, each with one tranche of 25M, through the application."""
    started = time.perf_counter()
    app = PartnershipsApplication(postgres_env(database_url, pool_size=2))
    bkm_id, partner_id, plan_id, activity_id, opportunity_id = (uuid.uuid4() for _ in range(5))
    effects = EventSourcedEffects(app, app.policy)
    versions: dict[str, int] = {}

    def tell(data: IntegrationEvent) -> None:
        version = versions[data.subject] = versions.get(data.subject, 0) + 1
        envelope = new_envelope(data, aggregate_version=version)
        effects.apply(envelope, Tracking(f"bench:{envelope.source}:{data.subject}", version))

    bkm = {"bkm_id": bkm_id, "region_code": REGION}
    tell(_fact(registry.BkmRegistered, **bkm))
    tell(_fact(registry.BkmVerified, **bkm))
    tell(
        _fact(
            registry.BkmBankAccountChanged, **bkm, account_number=ACCOUNT, confirmation="confirmed"
        )
    )
    tell(_fact(registry.PartnerRegistered, partner_id=partner_id))
    plan = {"plan_id": plan_id, "bkm_id": bkm_id, "region_code": REGION}
    activity = {"activity_id": activity_id, "location_region_code": REGION}
    tell(_fact(planning.PlanActivityAdded, **plan, **activity))
    tell(_fact(planning.ActivityChannellingOpened, **plan, **activity))
    tell(
        _fact(
            opportunities.OpportunityPublished,
            opportunity_id=opportunity_id,
            partner_id=partner_id,
            envelope="100000000000000.00",
            activity_kinds=["drainage"],
        )
    )
    operator = Principal("bench-operator", Role.bkm_operator, organisation_id=bkm_id)
    officer = Principal("bench-officer", Role.partner_officer, organisation_id=partner_id)
    agreements = []
    try:
        for _ in range(count):
            proposal = app.submit_proposal(
                operator,
                match_id=None,
                plan_id=plan_id,
                activity_id=activity_id,
                opportunity_id=opportunity_id,
                amount_requested=AMOUNT,
                swadaya_amount=Decimal("15000000.00"),
                work_plan="bench",
            )
            app.accept_proposal(officer, proposal.id, None)
            agreement = app.draw_agreement(officer, proposal.id, _terms(AMOUNT), None)
            app.sign(officer, agreement.id, "partner", None)
            app.sign(operator, agreement.id, "bkm", None)
            agreements.append(agreement.id)
    finally:
        app.close()
    return Seeded(partner_id, agreements, time.perf_counter() - started)


# -- the totals read model, loaded through the projection's own code ------------------------------


def _agreement_events(partner_id: uuid.UUID, n: int) -> list[Any]:
    """The events of one agreement in force, disbursed, reported on and accepted."""
    amount = Decimal(25_000_000 + (n % 40) * 1_000_000)
    parties = {
        "proposal_id": uuid.uuid4(),
        "opportunity_id": uuid.uuid4(),
        "plan_id": uuid.uuid4(),
        "activity_id": uuid.uuid4(),
        "bkm_id": uuid.uuid4(),
        "partner_id": partner_id,
    }
    agreement = Agreement.draft(uuid.uuid4(), parties, _terms(amount), "bench")
    agreement.sign("partner", "bench", dt.date(2027, 2, 1))
    agreement.sign("bkm", "bench", dt.date(2027, 2, 1))
    agreement.disburse(1, amount, f"T{n}", dt.date(2027, 2, 10), ACCOUNT)
    agreement.confirm_receipt(1, dt.date(2027, 2, 11), "bench")
    line = {
        "spent_on": dt.date(2027, 3, 1),
        "category": "material",
        "amount": amount / 2,
        "payee": "TB",
        "evidence_sha256": SHA,
    }
    agreement.report(1, [line], 50, 10, "bench", dt.date(2027, 3, 2))
    agreement.accept_report(1, "bench", dt.date(2027, 3, 3))
    return list(agreement.collect_events())


@dataclass(frozen=True)
class Loaded:
    partner_id: uuid.UUID
    rows: int
    seconds: float


def _owners(partner_id: uuid.UUID) -> list[uuid.UUID]:
    """The measured partner's agreements interleaved with other partners', as they arrive."""
    others = [uuid.uuid4() for _ in range(OTHER_PARTNERS)]
    mine = [partner_id] * PARTNER_AGREEMENTS
    theirs = [others[n % OTHER_PARTNERS] for n in range(OTHER_AGREEMENTS)]
    step = max(1, PARTNER_AGREEMENTS // max(1, OTHER_AGREEMENTS))
    owners: list[uuid.UUID] = []
    for n, owner in enumerate(mine):
        owners.append(owner)
        if n % step == 0 and theirs:
            owners.append(theirs.pop())
    return owners + theirs


async def load_totals(database_url: str) -> Loaded:
    started = time.perf_counter()
    projection = PartnershipTotals()
    partner_id = uuid.uuid4()
    owners = _owners(partner_id)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for statement in projection.ddl:
            await conn.execute(statement)
        for first in range(0, len(owners), PER_TRANSACTION):
            batch = owners[first : first + PER_TRANSACTION]
            async with conn.transaction(), conn.pipeline():
                for n, owner in enumerate(batch, start=first):
                    for event in _agreement_events(owner, n):
                        await projection.apply(conn, event)
        await conn.execute("ANALYZE partnerships_totals")
    return Loaded(partner_id, len(owners), time.perf_counter() - started)


# -- measurements ------------------------------------------------------------------------------


async def timed(action: Callable[[], Awaitable[object]], count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        await action()
        latencies.append(time.perf_counter() - started)
    return latencies


async def raw_totals(database_url: str, partner_id: uuid.UUID) -> list[float]:
    """The service's own query on one connection: no HTTP, auth or JSON."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await timed(lambda: totals(conn, "partner", partner_id), 20)
        return await timed(lambda: totals(conn, "partner", partner_id), TOTALS_QUERIES)


def disbursements(
    base_urls: Sequence[str], token: str, agreements: list[uuid.UUID]
) -> Iterator[tuple[str, dict[str, Any], dict[str, str]]]:
    """One disbursement per agreement, sent to each of `base_urls` in turn."""
    for n, agreement_id in enumerate(agreements):
        base_url = base_urls[n % len(base_urls)]
        body = {
            "amount": str(AMOUNT),
            "transfer_reference": f"BENCH-{n}",
            "disbursed_on": "2027-02-10",
            "destination_account": ACCOUNT,
        }
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
        yield f"{base_url}/agreements/{agreement_id}/tranches/1/disbursement", body, headers


async def catch_up_seconds(database_url: str, timeout_seconds: float = 60.0) -> float:
    """Seconds until the relay and the projection reached the newest stored event."""
    app = PartnershipsApplication(postgres_env(database_url, pool_size=1))
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
    return math.nan


@dataclass
class Served:
    totals: list[float]
    warm: LoadResult
    opened: LoadResult | None
    spread: LoadResult | None
    lag: float


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


async def serve_and_load(
    bench: Bench, database_url: str, seeded: Seeded, partner: uuid.UUID
) -> Served:
    s = bench.settings
    log_path = s.output_dir / f"partnerships-{s.run_id}.log"
    with tempfile.TemporaryDirectory(prefix="salur-bench-issuer-") as directory:
        issuer = ensure_issuer(Path(directory))
        officer = issuer.token(role=Role.partner_officer, subject="bench", org=seeded.partner_id)
        auditor = {"Authorization": f"Bearer {issuer.token(role=Role.auditor, subject='bench')}"}
        topic_name = f"{s.topic_prefix}.partnerships"
        async with fresh_topic(s.bootstrap, topic_name, s.topic_partitions) as topic:
            bench.progress(f"partnerships: relay to {topic}, log {log_path}")
            with _environment(TOPIC_VARIABLE, topic):
                async with replica_processes(
                    s.replicas,
                    database_url=database_url,
                    bootstrap=s.bootstrap,
                    jwks_path=issuer.jwks_path,
                    log_path=log_path,
                    module=ENTRY_POINT,
                    progress=bench.progress,
                ) as base_urls:
                    return await _load(
                        bench, base_urls, database_url, seeded, partner, officer, auditor
                    )


async def _load(
    bench: Bench,
    base_urls: list[str],
    database_url: str,
    seeded: Seeded,
    partner: uuid.UUID,
    officer: str,
    auditor: dict[str, str],
) -> Served:
    """Totals, then disbursements: an open loop on the first replica alone, and one spread
    over all of them (each disbursement on an agreement of its own)."""
    base_url = base_urls[0]
    async with new_client(base_url, connections=8) as client:
        url = f"/totals/partner/{partner}"

        async def one_total() -> None:
            response = await client.get(url, headers=auditor)
            if response.json()["agreements"] != PARTNER_AGREEMENTS:
                raise RuntimeError(f"wrong totals: {response.text[:200]}")

        await timed(one_total, 20)
        totals_http = await timed(one_total, TOTALS_QUERIES)
        warm_ids, load_ids = seeded.agreements[:WARM_UP], seeded.agreements[WARM_UP:]
        warm = LoadResult()
        for target, body, headers in disbursements(base_urls, officer, warm_ids):
            started = time.perf_counter()
            response = await client.post(target, json=body, headers=headers)
            if response.status_code == 200:
                warm.latencies.append(time.perf_counter() - started)
            else:
                warm.failures[f"HTTP {response.status_code}: {response.text[:120]}"] += 1
    generator = await asyncio.to_thread(vegeta.binary)
    if generator is None:
        bench.report.errors.append("partnerships: vegeta unavailable, no open loop measured")
        return Served(totals_http, warm, None, None, await catch_up_seconds(database_url))
    per_run = round(RATE * SECONDS)

    async def open_loop(urls: list[str], agreements: list[uuid.UUID]) -> LoadResult:
        requests = disbursements(urls, officer, agreements)
        return await vegeta.attack(generator, requests, RATE, SECONDS, expected=200)

    opened = await bench.step(
        f"partnerships: POST disbursement at {RATE:.0f}/s for {SECONDS:.0f}s, one process",
        lambda: open_loop([base_url], load_ids[:per_run]),
    )
    spread = None
    if len(base_urls) > 1:
        await asyncio.sleep(SETTLE_SECONDS)
        spread = await bench.step(
            f"partnerships: POST disbursement at {RATE:.0f}/s for {SECONDS:.0f}s,"
            f" {len(base_urls)} replicas",
            lambda: open_loop(base_urls, load_ids[per_run : 2 * per_run]),
        )
    lag = await catch_up_seconds(database_url)
    return Served(totals_http, warm, opened, spread, lag)


# -- figures -----------------------------------------------------------------------------------


def _ms(values: list[float], p: float) -> float:
    return percentile(values, p) * 1000


def figures(
    pg: float | None,
    kafka: float | None,
    loaded: Loaded,
    raw: list[float],
    served: Served,
    replicas: int = 2,
) -> list[Figure]:
    rows = []
    runs: list[tuple[str, LoadResult | None, float | None]] = [
        ("partnerships disbursement", served.opened, DISBURSE_P99_MS)
    ]
    if served.spread is not None:
        # The target is read on the replicas; one process's run is shown beside it.
        runs = [
            ("partnerships disbursement, one process", served.opened, None),
            (f"partnerships disbursement, {replicas} replicas", served.spread, DISBURSE_P99_MS),
        ]
    for label, opened, target in runs:
        if opened is None:
            continue
        rows.append(
            Figure(
                f"{label} completed rate",
                opened.rate,
                "req/s",
                opened.rate / RATE,
                "scheduled rate",
                note=f"{opened.requests} POST /agreements/{{id}}/tranches/1/disbursement by "
                "vegeta (round robin over the replicas), each its own agreement in force and "
                "Idempotency-Key, relay and projection running; failures count as infinitely "
                "slow" + (f"; Kafka baseline {kafka:,.0f} records/s" if kafka else ""),
            )
        )
        rows += _latencies(label, opened, pg, target)
        rows.append(Figure(f"{label} failed", opened.failures.total(), "requests"))
    rows.append(
        Figure(
            "partnerships relay+projection catch-up after load",
            served.lag,
            "s",
            note="until both followers reached the newest stored event",
        )
    )
    for name, p in (("p50", 50.0), ("p99", 99.0)):
        rows.append(Figure(f"partner totals raw SQL {name}", _ms(raw, p), "ms", 1.0, "(baseline)"))
    for name, p in (("p50", 50.0), ("p95", 95.0), ("p99", 99.0)):
        value = _ms(served.totals, p)
        base = _ms(raw, p)
        rows.append(
            Figure(
                f"partner totals HTTP {name}",
                value,
                "ms",
                value / base if base else None,
                f"raw SQL {name}",
                f"<= {TOTALS_P99_MS:.0f} ms" if name == "p99" else "",
                value <= TOTALS_P99_MS if name == "p99" else None,
                f"GET /totals/partner/{{id}}, {TOTALS_QUERIES} sequential, partner with "
                f"{PARTNER_AGREEMENTS:,} agreements among {loaded.rows:,} rows (loaded by "
                f"PartnershipTotals.apply from real Agreement events in {loaded.seconds:.0f}s)"
                if name == "p99"
                else "",
            )
        )
    return rows


# -- the step ----------------------------------------------------------------------------------


async def run(bench: Bench) -> None:
    s = bench.settings
    count = WARM_UP + round(RATE * SECONDS) * (2 if s.replicas > 1 else 1)
    with fresh_database(s.admin_url, f"bench_{s.run_id}_partnerships") as database_url:
        pg = bench.report.details.get("postgres_inserts_per_second")
        if pg is None:
            pg = await bench.step(
                f"raw Postgres: {s.pg_rows:,} single-row autocommit inserts",
                lambda: asyncio.to_thread(
                    baselines.postgres_single_row_inserts, database_url, s.pg_rows
                ),
            )
        kafka = bench.report.details.get("kafka_records_per_second")
        seeded = await bench.step(
            f"partnerships: seeding {count} agreements in force through the application",
            lambda: asyncio.to_thread(seed_agreements, database_url, count),
        )
        loaded = await bench.step(
            f"partnerships: projecting {PARTNER_AGREEMENTS + OTHER_AGREEMENTS:,} agreements",
            lambda: load_totals(database_url),
        )
        if seeded is None or loaded is None:
            return
        raw = await raw_totals(database_url, loaded.partner_id)
        served = await bench.step(
            "partnerships: totals and disbursements over HTTP",
            lambda: serve_and_load(bench, database_url, seeded, loaded.partner_id),
        )
        if served is None:
            return
        bench.report.details["partnerships"] = {
            "seeded_agreements": len(seeded.agreements),
            "seed_seconds": seeded.seconds,
            "warm_up_failures": dict(served.warm.failures),
            "open_loop_failures": dict(served.opened.failures) if served.opened else None,
            "open_loop_replicas_failures": dict(served.spread.failures) if served.spread else None,
        }
        for result in (served.opened, served.spread):
            for failure, n in (result.failures if result else {}).items():
                bench.report.errors.append(f"partnerships disbursement: {n}x {failure}")
        for figure in figures(pg, kafka, loaded, raw, served, s.replicas):
            bench.report.add(figure)


def serve() -> None:
    """The bench's service process: partnerships' real app, relay to the bench topic."""
    import uvicorn
    import uvloop
    from salur_kit import telemetry
    from salur_kit.runtime import build_api
    from salur_kit.settings import ServiceSettings
    from salur_partnerships.bootstrap import SPEC

    topic = os.environ[TOPIC_VARIABLE]
    settings = ServiceSettings()
    telemetry.configure(SPEC.name)

    async def main() -> None:
        api = build_api(dataclasses.replace(SPEC, consumers=()), settings)
        api.state.runtime.relay.topic_for = lambda _event: topic
        config = uvicorn.Config(
            api, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False
        )
        await uvicorn.Server(config).serve()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


if __name__ == "__main__":
    serve()
