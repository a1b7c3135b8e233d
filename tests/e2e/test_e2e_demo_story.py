"""The demo story end to end: six services as real processes on fresh databases, real Kafka
and Postgres, the story played over HTTP, then what an auditor and an agency would check.

The services publish to the shared topics, where other tests and a running platform also
write; every assertion counts only what this story created (its BKMs' ids).
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections import defaultdict
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from salur_contracts.cloudevents import decode
from salur_kit import tracefile
from salur_kit.demo import run_demo
from salur_kit.demo.command import installed_audit_verify
from salur_kit.demo.story import Outcome
from salur_kit.demo.summary import EXPECTED
from salur_kit.demo.waiting import Waiter
from salur_kit.devtokens import DevIssuer, ensure_issuer
from salur_kit.lag import topic_partitions
from salur_kit.testing.platform import log_tails, running_platform

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
T = TypeVar("T")

PARTNERSHIPS_TOPIC = "salur.partnerships.events.v1"
# Six Python processes starting at once on two busy cores took 150 s in one loaded run.
READY_SECONDS = 300
# The fresh audit ledger first seals the shared topics' whole history (other tests' too).
WAIT_SECONDS = 180
# Each Kafka read of the test itself (offsets, the agency's view).
KAFKA_SECONDS = 60
# Longer than the batch span processor's export interval (5 s), with room for a loaded machine.
TRACE_SECONDS = 30

ACCEPTED = ["ProposalSubmitted", "ProposalAccepted"]
SIGNED = ["PartnerSigned", "BkmSigned", "AgreementSigned"]
PAID = ["TrancheDisbursed", "ReceiptConfirmed"]
REPORT_ACCEPTED = ["RealisationReported", "RealisationAccepted"]
EXPECTED_PROPOSAL_EVENTS = {
    "drainage": ACCEPTED,
    "posyandu": ACCEPTED,
    "mck": ["ProposalSubmitted", "ProposalRejected"],
    "beasiswa": ACCEPTED,
    "usaha": ACCEPTED,
}
EXPECTED_AGREEMENT_EVENTS = {
    "drainage": [
        *SIGNED,
        *PAID,
        "RealisationReported",
        "RealisationRejected",
        *REPORT_ACCEPTED,
        *PAID,
        *REPORT_ACCEPTED,
        "PartnershipCompleted",
    ],
    "posyandu": [*SIGNED, *PAID, *REPORT_ACCEPTED, "PartnershipTerminated"],
    "beasiswa": [*SIGNED, *PAID],
    "usaha": [*SIGNED, *PAID, *REPORT_ACCEPTED],
}


@dataclass(frozen=True)
class Platform:
    urls: dict[str, str]
    issuer: DevIssuer
    audit_database_url: str
    audit_key: Path
    checkpoint_topic: str
    traces: Path
    logs: Path


def _bounded(work: Coroutine[Any, Any, T]) -> T:
    """Run one of the test's own Kafka reads to completion, or fail within KAFKA_SECONDS."""
    return asyncio.run(asyncio.wait_for(work, KAFKA_SECONDS))


def _trace(platform: Platform, trace_id: str, services: set[str]) -> list[tracefile.SpanRecord]:
    """The trace's spans once every one of `services` has written some. Services export
    spans in batches every few seconds (OpenTelemetry's batch processor), so a story that
    ends quickly is read before its last batches are written; wait up to TRACE_SECONDS."""
    deadline = time.monotonic() + TRACE_SECONDS
    while True:
        spans = [s for s in tracefile.read_spans(platform.traces) if s.trace_id == trace_id]
        if services <= {s.service for s in spans} or time.monotonic() > deadline:
            return spans
        time.sleep(0.5)


@pytest.fixture
def platform(
    postgres_admin_url: str, kafka_bootstrap_servers: str, unique_topic: str, tmp_path: Path
) -> Iterator[Platform]:
    issuer = ensure_issuer(tmp_path / "issuer")
    logs, traces = tmp_path / "logs", tmp_path / "traces"
    audit_key = tmp_path / "audit" / "signing-key.pem"
    audit_key.parent.mkdir()
    with ExitStack() as stack:
        # Shown by pytest when the test fails: the tail of every service's log.
        stack.callback(lambda: print(log_tails(logs)))
        running = stack.enter_context(
            running_platform(
                postgres_admin_url=postgres_admin_url,
                kafka_bootstrap_servers=kafka_bootstrap_servers,
                jwks_path=issuer.jwks_path,
                logs=logs,
                audit_signing_key=audit_key,
                audit_checkpoint_topic=unique_topic,
                traces=traces,
                database_prefix="e2e",
                group_prefix="e2e",
                extra_env={"audit": {"SALUR_AUDIT_CHECKPOINT_SECONDS": "5"}},
                ready_seconds=READY_SECONDS,
            )
        )
        yield Platform(
            running.urls,
            issuer,
            running.database_urls["audit"],
            audit_key,
            unique_topic,
            traces,
            logs,
        )


async def _end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, [topic])
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def _agency_reads(
    bootstrap: str, start: dict[TopicPartition, int], bkms: set[str]
) -> list[tuple[str, int, str, str]]:
    """What an agency sees: a plain consumer and the contracts package, nothing else.
    Returns (subject, aggregate version, event class, ce id) of this story's BKMs, in order
    per partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    seen: list[tuple[str, int, str, str]] = []
    try:
        end = await consumer.end_offsets(list(start))
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        remaining = {tp for tp in start if end[tp] > start[tp]}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    envelope = decode(key=record.key, value=record.value, headers=record.headers)
                    if str(getattr(envelope.data, "bkm_id", "")) in bkms:
                        seen.append(
                            (
                                envelope.subject,
                                envelope.aggregate_version,
                                type(envelope.data).__name__,
                                envelope.id,
                            )
                        )
            remaining = {tp for tp in remaining if await consumer.position(tp) < end[tp]}
    finally:
        await consumer.stop()
    return seen


class _Shown(io.StringIO):
    """Keeps what the demo printed, and shows it as it goes (pytest -s) or on failure."""

    def write(self, text: str) -> int:
        sys.stdout.write(text)
        return super().write(text)


def _play(platform: Platform) -> tuple[Outcome, str]:
    out = _Shown()
    outcome = run_demo(
        platform.urls,
        platform.issuer,
        out=out,
        waiter=Waiter(timeout_seconds=WAIT_SECONDS),
        verify=installed_audit_verify(),
        verify_arguments=[
            "--database-url",
            platform.audit_database_url,
            "--public-key",
            str(platform.audit_key),
            "--checkpoint-topic",
            platform.checkpoint_topic,
        ],
    )
    return outcome, out.getvalue()


# Beyond the suite's 300 s: six processes start, and the fresh audit ledger first seals the
# shared topics' history. (On a quiet machine the whole test takes about 30 s.)
@pytest.mark.timeout(900)
def test_the_demo_story_runs_end_to_end_and_every_view_agrees(
    platform: Platform, kafka_bootstrap_servers: str
) -> None:
    start = _bounded(_end_offsets(kafka_bootstrap_servers, PARTNERSHIPS_TOPIC))

    outcome, printed = _play(platform)

    # Act: the totals per BKM and partner, from partnerships' read model, are the story's.
    for kind, key in EXPECTED:
        row = outcome.totals[f"{kind}:{key}"]
        figures = tuple(Decimal(row[f]) for f in ("committed", "disbursed", "spent", "returned"))
        assert figures == tuple(Decimal(v) for v in EXPECTED[(kind, key)]), (kind, key, row)
    assert "BKM Tunas Baru: refused" in printed, "the unverified BKM cannot seek funding"

    # The audit ledger replays the same money per BKM and verifies (signatures, tree, Kafka).
    for bkm in outcome.bkms.values():
        replayed = outcome.replay["bkms"].get(str(bkm.id))
        expected = EXPECTED[("bkm", bkm.cast.key)]
        if replayed is None:
            assert set(expected) == {"0.00"}
        else:
            assert tuple(
                Decimal(replayed[f]) for f in ("committed", "disbursed", "spent", "returned")
            ) == tuple(Decimal(v) for v in expected)
    assert "ledger OK" in printed, printed

    # The agency saw every public partnership event of the story once, in aggregate order.
    bkms = {str(bkm.id) for bkm in outcome.bkms.values()}
    seen = _bounded(_agency_reads(kafka_bootstrap_servers, start, bkms))
    # Delivery is at least once: an agency drops a version it already has, which must be
    # the very same event (same CloudEvent id), and keeps one of each.
    first_id: dict[tuple[str, int], str] = {}
    by_subject: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for subject, version, name, event_id in seen:
        if (subject, version) in first_id:
            assert first_id[(subject, version)] == event_id, "a version is one event"
            continue
        first_id[(subject, version)] = event_id
        by_subject[subject].append((version, name))
    expected_streams = {
        str(deal.proposal_id): EXPECTED_PROPOSAL_EVENTS[key] for key, deal in outcome.deals.items()
    } | {
        str(deal.agreement_id): EXPECTED_AGREEMENT_EVENTS[key]
        for key, deal in outcome.deals.items()
        if deal.agreement_id is not None
    }
    assert set(by_subject) == set(expected_streams)
    for subject, stream in by_subject.items():
        versions = [version for version, _ in stream]
        # Increasing one by one: in aggregate order, none twice, none missing.
        assert versions == list(range(versions[0], versions[0] + len(versions))), subject
        assert [name for _, name in stream] == expected_streams[subject], subject

    # One trace follows the first activity's opening from planning over Kafka into matching
    # and partnerships, every span linked to its parent (`salur trace` draws it as a tree).
    spans = _trace(platform, outcome.trace_id, {"planning", "matching", "partnerships"})
    assert {"planning", "matching", "partnerships"} <= {s.service for s in spans}
    recorded = {s.span_id for s in spans}
    roots = [s for s in spans if s.parent_span_id not in recorded]
    assert [(r.service, r.kind) for r in roots] == [("planning", "server")], roots
