"""Matching's bench: 100,000 activities seeking funding and 10,000 open opportunities.

1. The world as the other services would have published it (registry's BKMs and partners,
   planning's described and opened activities, opportunities' terms) goes onto fresh topics
   of this run, together with the matches a live matching service would have published
   for it (computed here with the engine), as CloudEvents.
2. `salur_matching.rebuild` reads them all from offset zero and writes the state into a
   fresh database: the rebuild rate, in events per second, against the raw producer rate.
3. A separate process (`python -m benchmarks.matching measure`) starts the application on
   that database exactly as the service does (state reloaded from Postgres), then takes in
   new events through the consumer's effect, one transaction each: a newly opened activity
   and a newly published opportunity, timed until their matches are committed; the ratio is
   to one raw Postgres commit. Its resident memory is read from /proc (peak, VmHWM).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer
from eventsourcing.persistence import Tracking
from salur_contracts import matching as contract
from salur_contracts.cloudevents import encode, new_envelope
from salur_contracts.values import CURRENCY
from salur_kit.eventstore import postgres_env
from salur_matching.application import MatchingApplication
from salur_matching.engine import Engine
from salur_matching.examples import ActivitySpec, Feed, OpportunitySpec
from salur_matching.facts import from_cents
from salur_matching.ranking import score
from salur_matching.rebuild import Rebuilt, rebuild, write
from salur_matching.rules import RULE_NAMES

from benchmarks import baselines, memory
from benchmarks.report import Figure
from benchmarks.resources import fresh_database, fresh_topic
from benchmarks.stats import percentile

if TYPE_CHECKING:
    from benchmarks.runner import Bench

ACTIVITIES = 100_000
OPPORTUNITIES = 10_000
PER_PLAN = 5
NEW_ACTIVITIES = 60
NEW_OPPORTUNITIES = 20
WARM_UP = 5
SEED = 20261129
TARGET_ACTIVITY_MS = 50.0
TARGET_OPPORTUNITY_MS = 200.0
TARGET_RSS_MB = 500.0
TARGET_REBUILD_PER_SECOND = 10_000.0
KINDS = {
    "environment": ["drainage", "roads", "clean_water", "sanitation", "waste_management"],
    "economy": ["revolving_loan", "skills_training", "business_development"],
    "social": ["scholarship", "health", "nutrition", "elderly_care"],
}


@dataclass(frozen=True)
class Geography:
    """10 provinces x 10 cities x 5 districts x 4 kelurahan = 2,000 kelurahan, one BKM each."""

    kelurahan: list[str]

    @classmethod
    def build(cls) -> Geography:
        codes = [
            f"{p}.{c:02d}.{d:02d}.{1000 + k}"
            for p in range(11, 21)
            for c in range(1, 11)
            for d in range(1, 6)
            for k in range(1, 5)
        ]
        return cls(codes)

    @staticmethod
    def district(code: str) -> str:
        return code.rsplit(".", 1)[0]

    @staticmethod
    def city(code: str) -> str:
        return ".".join(code.split(".")[:2])


def _millions(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low, high) * 1_000_000)


def new_activity(
    rng: random.Random, bkm: tuple[uuid.UUID, str], plan_id: uuid.UUID
) -> tuple[ActivitySpec, Decimal]:
    aspect = rng.choice(list(KINDS))
    need = _millions(rng, 20, 250)
    cost = need * 2
    spec = ActivitySpec(
        bkm_id=bkm[0],
        bkm_region=bkm[1],
        region=bkm[1],
        aspect=aspect,
        kind=rng.choice(KINDS[aspect]),
        cost=cost,
        swadaya=cost * rng.randint(3, 30) / 100,
        poor_households=rng.randint(5, 400),
        priority=rng.randint(1, 10),
        year=rng.randint(2026, 2028),
        plan_id=plan_id,
    )
    return spec, need


def new_opportunity(rng: random.Random, geo: Geography, partner_id: uuid.UUID) -> OpportunitySpec:
    aspect = rng.choice(list(KINDS))
    anchor = rng.choice(geo.kelurahan)
    # Most opportunities serve one district (kecamatan); one in ten a whole city.
    regions = [geo.city(anchor)] if rng.random() < 0.1 else [geo.district(anchor)]
    low = rng.randint(10, 60)
    return OpportunitySpec(
        partner_id=partner_id,
        aspects=[aspect],
        kinds=rng.sample(KINDS[aspect], k=min(2, len(KINDS[aspect]))),
        regions=regions,
        min_amount=Decimal(low * 1_000_000),
        max_amount=Decimal((low + rng.randint(40, 200)) * 1_000_000),
        envelope=Decimal(rng.randint(1, 10) * 1_000_000_000),
        swadaya_percent=str(rng.choice((0, 5, 10, 15, 20))),
        close_date=dt.date(rng.randint(2026, 2029), 6, 30),
    )


@dataclass
class World:
    feed: Feed
    bkms: list[tuple[uuid.UUID, str]]
    partners: list[uuid.UUID]


def build_world(activities: int, opportunities: int) -> World:
    rng = random.Random(SEED)
    geo = Geography.build()
    feed = Feed()
    bkms = [(uuid.UUID(int=rng.getrandbits(128)), code) for code in geo.kelurahan]
    for index, (bkm_id, code) in enumerate(bkms):
        feed.bkm(bkm_id, code)
        if index % 50 == 0:
            feed.suspend(bkm_id, code)
    partners = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(500)]
    for partner_id in partners:
        cities = sorted({geo.city(rng.choice(geo.kelurahan)) for _ in range(3)})
        feed.partner(partner_id, cities)
    plan_id, bkm = uuid.uuid4(), bkms[0]
    for index in range(activities):
        if index % PER_PLAN == 0:
            plan_id, bkm = uuid.UUID(int=rng.getrandbits(128)), rng.choice(bkms)
        spec, need = new_activity(rng, bkm, plan_id)
        spec.activity_id = uuid.UUID(int=rng.getrandbits(128))
        feed.activity(spec, open_for=need)
    for _ in range(opportunities):
        o = new_opportunity(rng, geo, rng.choice(partners))
        o.opportunity_id = uuid.UUID(int=rng.getrandbits(128))
        feed.publish(o)
    return World(feed, bkms, partners)


def published_matches(world: World) -> tuple[list[contract.MatchProposed], Engine]:
    """What a live matching service would have published for this world."""
    engine = Engine()
    for event, version in world.feed.events:
        engine.apply(event, version, decide=False)
    events = []
    for activity_id, opportunity_id in sorted(engine.eligible_pairs()):
        a, o = engine.activities[activity_id], engine.opportunities[opportunity_id]
        points, reasons = score(a, o, engine.partners.get(o.partner_id))
        events.append(
            contract.MatchProposed(
                match_id=contract.match_id(activity_id, opportunity_id),
                activity_id=activity_id,
                plan_id=a.plan_id,
                bkm_id=a.bkm_id,
                opportunity_id=opportunity_id,
                partner_id=o.partner_id,
                aspect=a.aspect,
                region_code=a.region_code,
                amount_needed=from_cents(a.outstanding),
                currency=CURRENCY,
                score=points,
                rules_passed=list(RULE_NAMES),
                reasons=[contract.ScoreReason(**r._asdict()) for r in reasons],
            )
        )
    return events, engine


async def produce(bootstrap: str, records: Sequence[tuple[str, Any]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    try:
        pending = []
        for topic, record in records:
            pending.append(
                await producer.send(
                    topic, value=record.value, key=record.key, headers=record.headers
                )
            )
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


# -- the measuring process ------------------------------------------------------------------


def measure(database_url: str, probe: dict[str, Any]) -> dict[str, Any]:
    """Runs in its own process: load, then time new activities and opportunities."""
    import salur_matching.bootstrap  # noqa: F401  (the service's imports count in its memory)

    started = time.perf_counter()
    app = MatchingApplication(postgres_env(database_url))
    load_seconds = time.perf_counter() - started
    rng = random.Random(SEED + 1)
    geo = Geography.build()
    bkms = [(uuid.UUID(b), code) for b, code in probe["bkms"]]
    partners = [uuid.UUID(p) for p in probe["partners"]]
    feed = Feed()
    activity_ms: list[float] = []
    activity_matches: list[int] = []
    for index in range(NEW_ACTIVITIES + WARM_UP):
        spec, need = new_activity(rng, rng.choice(bkms), uuid.uuid4())
        feed.activity(spec)
        added, version = feed.events[-1]
        app.take_into_account(added, version, Tracking(f"bench:{added.subject}", version))
        feed.open(spec, need)
        opened, version = feed.events[-1]
        began = time.perf_counter()
        made = app.take_into_account(opened, version, Tracking(f"bench:{opened.subject}", version))
        elapsed = (time.perf_counter() - began) * 1000
        if index >= WARM_UP:
            activity_ms.append(elapsed)
            activity_matches.append(len(made))
    opportunity_ms: list[float] = []
    opportunity_matches: list[int] = []
    for index in range(NEW_OPPORTUNITIES + WARM_UP):
        o = new_opportunity(rng, geo, rng.choice(partners))
        feed.publish(o)
        published, version = feed.events[-1]
        began = time.perf_counter()
        made = app.take_into_account(
            published, version, Tracking(f"bench:{published.subject}", version)
        )
        elapsed = (time.perf_counter() - began) * 1000
        if index >= WARM_UP:
            opportunity_ms.append(elapsed)
            opportunity_matches.append(len(made))
    result = {
        "load_seconds": load_seconds,
        "activities": len(app.engine.activities),
        "opportunities": len(app.engine.opportunities),
        "standing_matches": len(app.engine.standing()),
        "activity_ms": activity_ms,
        "activity_matches": activity_matches,
        "opportunity_ms": opportunity_ms,
        "opportunity_matches": opportunity_matches,
        "rss_kib": memory.resident_kib(os.getpid()),
        "peak_rss_kib": memory.resident_kib(os.getpid(), field="VmHWM"),
    }
    app.close()
    return result


def _measure_in_process(database_url: str, probe_path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.matching", "measure", database_url, str(probe_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measuring process failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the bench step ---------------------------------------------------------------------------


async def run(bench: Bench) -> None:
    s = bench.settings
    progress = bench.progress
    database = f"bench_{s.run_id}_matching"
    with fresh_database(s.admin_url, database) as database_url:
        pg = bench.report.details.get("postgres_inserts_per_second")
        if pg is None:
            pg = await asyncio.to_thread(
                baselines.postgres_single_row_inserts, database_url, s.pg_rows
            )
        kafka = bench.report.details.get("kafka_records_per_second")
        prefix = f"{s.topic_prefix}.matching"
        async with (
            fresh_topic(s.bootstrap, f"{prefix}.raw", s.topic_partitions) as raw,
            fresh_topic(s.bootstrap, f"{prefix}.registry", s.topic_partitions) as registry,
            fresh_topic(s.bootstrap, f"{prefix}.planning", s.topic_partitions) as planning,
            fresh_topic(s.bootstrap, f"{prefix}.opportunities", s.topic_partitions) as offers,
            fresh_topic(s.bootstrap, f"{prefix}.matching", s.topic_partitions) as own,
        ):
            if kafka is None:
                kafka = await baselines.kafka_producer(s.bootstrap, raw, s.kafka_messages)
            progress(f"matching: building {ACTIVITIES:,} activities, {OPPORTUNITIES:,} offers")
            world = await asyncio.to_thread(build_world, ACTIVITIES, OPPORTUNITIES)
            matches, _ = await asyncio.to_thread(published_matches, world)
            topic_of = {
                "registry": registry,
                "planning": planning,
                "opportunities": offers,
                "matching": own,
            }
            count = len(world.feed.events)
            progress(f"matching: encoding {count:,} events and {len(matches):,} matches")
            records = [
                (topic_of[e.source_service], encode(new_envelope(e, aggregate_version=v)))
                for e, v in world.feed.events
            ] + [(own, encode(new_envelope(m, aggregate_version=1))) for m in matches]
            progress(f"matching: producing {len(records):,} records")
            await produce(s.bootstrap, records)
            del records
            progress("matching: rebuilding from offset zero")
            # One process: a second reader of planning's topic cost more CPU than it saved
            # (start-up, facts pickled across) on 2 cores shared with the broker.
            rebuilt = await rebuild(s.bootstrap, [registry, planning, offers], own)
            await asyncio.to_thread(write, database_url, rebuilt)
        rate = rebuilt.events / rebuilt.seconds
        probe = {
            "bkms": [(str(b), code) for b, code in world.bkms[1::50][:200]],
            "partners": [str(p) for p in world.partners],
        }
        del world, matches
        probe_path = s.output_dir / f"matching-probe-{s.run_id}.json"
        probe_path.parent.mkdir(parents=True, exist_ok=True)
        probe_path.write_text(json.dumps(probe))
        progress("matching: measuring new activities and opportunities in a fresh process")
        measured = await asyncio.to_thread(_measure_in_process, database_url, probe_path)
        # Reported before the database is dropped, so that a failing drop loses no figure.
        bench.report.details["matching"] = {
            "rebuild": {
                "events": rebuilt.events,
                "skipped": rebuilt.skipped,
                "corrections": len(rebuilt.corrections),
                "read_seconds": rebuilt.read_seconds,
                "decide_seconds": rebuilt.decide_seconds,
                "write_seconds": rebuilt.write_seconds,
                "cpu_seconds": rebuilt.cpu_seconds,
                "cpu_microseconds_per_event": rebuilt.cpu_seconds / rebuilt.events * 1e6,
            },
            **{k: v for k, v in measured.items() if not k.endswith("_ms")},
        }
        for figure in figures(pg, kafka, rate, rebuilt, measured):
            bench.report.add(figure)


def figures(
    pg: float | None, kafka: float | None, rate: float, rebuilt: Rebuilt, m: dict[str, Any]
) -> list[Figure]:
    commit_ms = 1000 / pg if pg else None

    def ratio(value: float, baseline: float | None) -> float | None:
        return value / baseline if baseline else None

    found = [
        Figure(
            "matching rebuild from the topics",
            rate,
            "events/s",
            ratio(rate, kafka),
            "raw Kafka records/s",
            f">= {TARGET_REBUILD_PER_SECOND:,.0f}/s",
            rate >= TARGET_REBUILD_PER_SECOND,
            f"{rebuilt.events:,} events (inputs and published matches) read from offset zero, "
            f"decided and written (COPY) into a fresh database: read {rebuilt.read_seconds:.1f}s, "
            f"decide {rebuilt.decide_seconds:.1f}s, write {rebuilt.write_seconds:.1f}s; "
            f"{rebuilt.cpu_seconds / rebuilt.events * 1e6:.0f} us of CPU per event",
        )
    ]
    for label, key, target, count in (
        ("new activity", "activity", TARGET_ACTIVITY_MS, NEW_ACTIVITIES),
        ("new opportunity", "opportunity", TARGET_OPPORTUNITY_MS, NEW_OPPORTUNITIES),
    ):
        timings: list[float] = m[f"{key}_ms"]
        made: list[int] = m[f"{key}_matches"]
        for name, p in (("p50", 50.0), ("p95", 95.0), ("max", 100.0)):
            value = percentile([t / 1000 for t in timings], p) * 1000
            found.append(
                Figure(
                    f"matching {label} matched {name}",
                    value,
                    "ms",
                    ratio(value, commit_ms),
                    "raw Postgres commit time",
                    f"<= {target:.0f} ms" if name == "p95" else "",
                    value <= target if name == "p95" else None,
                    ""
                    if name != "p95"
                    else f"{count} events through the consumer's effect, each committed with "
                    f"its matches ({sum(made) / len(made):.1f} matches each on average) "
                    f"with {m['activities']:,} activities and {m['opportunities']:,} "
                    "opportunities loaded",
                )
            )
    peak = m["peak_rss_kib"] / 1024
    found.append(
        Figure(
            "matching resident memory (peak)",
            peak,
            "MB",
            target=f"<= {TARGET_RSS_MB:.0f} MB",
            passed=peak <= TARGET_RSS_MB,
            note=f"VmHWM of the process holding {m['activities']:,} activities, "
            f"{m['opportunities']:,} opportunities and {m['standing_matches']:,} standing "
            f"matches; state reloaded from Postgres in {m['load_seconds']:.1f}s",
        )
    )
    return found


def main(argv: Sequence[str]) -> int:
    if len(argv) == 3 and argv[0] == "measure":
        probe = json.loads(Path(argv[2]).read_text())
        print(json.dumps(measure(argv[1], probe)))
        return 0
    print("usage: python -m benchmarks.matching measure DATABASE_URL PROBE_JSON", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
