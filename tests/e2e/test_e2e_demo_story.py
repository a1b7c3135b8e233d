"""The demo story end to end: six services as real processes on fresh databases, real Kafka
and Postgres, the story played over HTTP, then what an auditor and an agency would check.

The services publish to the shared topics, where other tests and a running platform also
write; every assertion counts only what this story created (its BKMs' ids).
"""

from __future__ import annotations

import asyncio
import importlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
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
from salur_kit.runtime import ServiceSpec
from salur_kit.testing.databases import scratch_database

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
T = TypeVar("T")

SERVICES = ("registry", "planning", "opportunities", "matching", "partnerships", "audit")
PARTNERSHIPS_TOPIC = "salur.partnerships.events.v1"
READY_SECONDS = 120
# The fresh audit ledger first seals the shared topics' whole history (other tests' too).
WAIT_SECONDS = 180
# Each Kafka read of the test itself (offsets, the agency's view).
KAFKA_SECONDS = 60

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", f"salur_{name}"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=25)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _show_logs(logs: Path) -> None:
    """The tail of every service's log, shown by pytest when the test fails."""
    for log in sorted(logs.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()[-40:]
        print(f"----- {log.name} (last {len(lines)} lines)", *lines, sep="\n")


def _bounded(work: Coroutine[Any, Any, T]) -> T:
    """Run one of the test's own Kafka reads to completion, or fail within KAFKA_SECONDS."""
    return asyncio.run(asyncio.wait_for(work, KAFKA_SECONDS))


def _wait_ready(
    processes: dict[str, subprocess.Popen[bytes]], urls: dict[str, str], logs: Path
) -> None:
    waiting = set(processes)
    deadline = time.monotonic() + READY_SECONDS
    while waiting and time.monotonic() < deadline:
        for name in sorted(waiting):
            if processes[name].poll() is not None:
                pytest.fail(f"{name} exited:\n{(logs / f'{name}.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{urls[name]}/readyz", timeout=5).status_code == 200:
                    waiting.discard(name)
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    if waiting:
        pytest.fail(f"never ready: {sorted(waiting)}")


@pytest.fixture
def platform(
    postgres_admin_url: str, kafka_bootstrap_servers: str, unique_topic: str, tmp_path: Path
) -> Iterator[Platform]:
    issuer = ensure_issuer(tmp_path / "issuer")
    logs, traces = tmp_path / "logs", tmp_path / "traces"
    logs.mkdir()
    audit_key = tmp_path / "audit" / "signing-key.pem"
    audit_key.parent.mkdir()
    prefix = f"e2e-{uuid.uuid4().hex[:8]}-"
    urls: dict[str, str] = {}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    audit_database_url = ""
    _bounded(_start_groups_at_the_end(kafka_bootstrap_servers, prefix))
    with ExitStack() as stack:
        stack.callback(_show_logs, logs)
        for name in SERVICES:
            # Entered before its process, so the process stops before its database goes.
            database_url = stack.enter_context(scratch_database(postgres_admin_url, "e2e"))
            port = free_port()
            env = os.environ | {
                "SALUR_SERVICE": name,
                "SALUR_ENV": "development",
                "HTTP_PORT": str(port),
                "DATABASE_URL": database_url,
                "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
                "SALUR_JWKS_PATH": str(issuer.jwks_path),
                "SALUR_CONSUMER_GROUP_PREFIX": prefix,
                "SALUR_TRACES_DIR": str(traces),
            }
            if name == "audit":
                audit_database_url = database_url
                env |= {
                    "SALUR_AUDIT_SIGNING_KEY": str(audit_key),
                    "SALUR_AUDIT_CHECKPOINT_TOPIC": unique_topic,
                    "SALUR_AUDIT_CHECKPOINT_SECONDS": "5",
                }
            processes[name] = _start(name, env, logs / f"{name}.log")
            stack.callback(_stop, processes[name])
            urls[name] = f"http://127.0.0.1:{port}"
        _wait_ready(processes, urls, logs)
        yield Platform(urls, issuer, audit_database_url, audit_key, unique_topic, traces, logs)


async def _start_groups_at_the_end(bootstrap: str, prefix: str) -> None:
    """Fresh groups would first read the shared topics' whole history (other tests',
    benchmarks', a running platform's). As an operator would with `kafka-consumer-groups
    --reset-offsets --to-latest`, start each group at the end: the story comes later."""
    for name in SERVICES:
        module = importlib.import_module(f"salur_{name}.bootstrap")
        spec: ServiceSpec | None = getattr(module, "SPEC", None)
        for consumer_spec in spec.consumers if spec is not None else ():
            consumer = AIOKafkaConsumer(
                bootstrap_servers=bootstrap,
                group_id=prefix + consumer_spec.group,
                enable_auto_commit=False,
            )
            await consumer.start()
            try:
                partitions = await topic_partitions(consumer, consumer_spec.topics)
                consumer.assign(partitions)
                await consumer.commit(await consumer.end_offsets(partitions))
            finally:
                await consumer.stop()


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


# Beyond the suite's 300 s: the fresh audit ledger first seals the shared topics' history.
# (On a quiet machine the whole test takes about 30 s.)
@pytest.mark.timeout(600)
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
    spans = [s for s in tracefile.read_spans(platform.traces) if s.trace_id == outcome.trace_id]
    assert {"planning", "matching", "partnerships"} <= {s.service for s in spans}
    recorded = {s.span_id for s in spans}
    roots = [s for s in spans if s.parent_span_id not in recorded]
    assert [(r.service, r.kind) for r in roots] == [("planning", "server")], roots
