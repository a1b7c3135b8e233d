"""Helpers for the audit tests and benchmark: realistic CloudEvents, topics and ledgers."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from salur_contracts.base import IntegrationEvent, example_event
from salur_contracts.cloudevents import Envelope, encode, new_envelope
from salur_contracts.opportunities import OpportunityPublished
from salur_contracts.partnerships import (
    AgreementSigned,
    PartnershipCompleted,
    PartnershipTerminated,
    RealisationReported,
    TrancheDisbursed,
)

from salur_audit import ledger
from salur_audit.canonical import Entry, entry_of
from salur_audit.settings import WRITER_ROLE, as_user
from salur_audit.signing import Signer
from salur_audit.verifier import Checkpoint
from salur_audit.writer import LedgerWriter

START = dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC)


def writer_url(owner_url: str) -> str:
    """Migrate a database as its owner; the URL of the insert-and-select writer role."""
    ledger.migrate(owner_url, WRITER_ROLE)
    return as_user(owner_url, WRITER_ROLE)


def _copy(event: IntegrationEvent, **changes: Any) -> IntegrationEvent:
    return type(event).model_validate({**event.model_dump(mode="json"), **changes})


@dataclass
class Story:
    """Agreements signed, paid in tranches, completed or terminated, with their envelopes."""

    events: list[Envelope]

    @classmethod
    def of(cls, agreements: int, *, seed: int = 0, start: dt.datetime = START) -> Story:
        out: list[Envelope] = []
        clock = start
        versions: dict[str, int] = {}

        def emit(event: IntegrationEvent) -> None:
            nonlocal clock
            clock += dt.timedelta(minutes=7)
            version = versions.get(event.subject, 0) + 1
            versions[event.subject] = version
            # Ids from the seed, so the same story published twice is the same events.
            event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}/{len(out)}"))
            out.append(new_envelope(event, aggregate_version=version, time=clock, id=event_id))

        opportunity = uuid.UUID(int=seed * 1000 + 1)
        emit(
            _copy(
                example_event(OpportunityPublished),
                opportunity_id=str(opportunity),
                envelope="100000000000.00",
            )
        )
        bkms = [uuid.UUID(int=seed * 1000 + 100 + i) for i in range(3)]
        partners = [uuid.UUID(int=seed * 1000 + 200 + i) for i in range(2)]
        for n in range(agreements):
            base = {
                "agreement_id": str(uuid.UUID(int=seed * 100000 + 10000 + n)),
                "bkm_id": str(bkms[n % 3]),
                "partner_id": str(partners[n % 2]),
            }
            amount = Decimal(10_000_000 + 1_000_000 * (n % 7))
            emit(
                _copy(
                    example_event(AgreementSigned),
                    **base,
                    opportunity_id=str(opportunity),
                    amount=f"{amount:.2f}",
                )
            )
            tranche = amount / 4
            for t in range(1, 3):
                emit(
                    _copy(
                        example_event(TrancheDisbursed),
                        **base,
                        tranche_number=t,
                        amount=f"{tranche:.2f}",
                    )
                )
            emit(
                _copy(
                    example_event(RealisationReported),
                    **base,
                    report_number=1,
                    tranche_number=1,
                    amount_spent=f"{tranche / 2:.2f}",
                )
            )
            if n % 3 == 0:
                emit(
                    _copy(
                        example_event(PartnershipTerminated),
                        **base,
                        returned_amount=f"{tranche:.2f}",
                    )
                )
            elif n % 3 == 1:
                emit(
                    _copy(
                        example_event(PartnershipCompleted),
                        **base,
                        total_disbursed=f"{2 * tranche:.2f}",
                    )
                )
        return cls(out)


def entries_of(envelopes: Sequence[Envelope], topic: str = "t") -> list[Entry]:
    """Ledger entries of envelopes as if read from one partition of `topic`."""
    found = []
    for offset, envelope in enumerate(envelopes):
        record = encode(envelope)
        found.append(
            entry_of(
                key=record.key,
                value=record.value,
                headers=record.headers,
                topic=topic,
                partition=0,
                offset=offset,
            )
        )
    return found


async def create_topics(bootstrap: str, names: Sequence[str], partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        )
    finally:
        await admin.close()
    await _until_led(bootstrap, names)


async def _until_led(bootstrap: str, names: Sequence[str], seconds: float = 30.0) -> None:
    """Wait until every partition of the new topics has a leader (creation is asynchronous)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            cluster = await consumer._client.fetch_all_metadata()
            leaderless = [
                name
                for name in names
                if not cluster.partitions_for_topic(name)
                or any(
                    cluster.leader_for_partition(TopicPartition(name, p)) in (None, -1)
                    for p in cluster.partitions_for_topic(name)
                )
            ]
            if not leaderless:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"topics without leaders after {seconds:.0f}s: {leaderless}")
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()


async def delete_topics(bootstrap: str, names: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(list(names))
    finally:
        await admin.close()


def unique_names(count: int, prefix: str = "test.audit") -> list[str]:
    return [f"{prefix}.{uuid.uuid4().hex[:10]}" for _ in range(count)]


async def publish(producer: AIOKafkaProducer, topic: str, envelopes: Sequence[Envelope]) -> None:
    futures = []
    for envelope in envelopes:
        record = encode(envelope)
        futures.append(
            await producer.send(topic, record.value, key=record.key, headers=record.headers)
        )
    for future in futures:
        await future


def chunks(items: Sequence[Envelope], size: int) -> Iterator[Sequence[Envelope]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def build_ledger(
    owner_url: str, signer: Signer, envelopes: Sequence[Envelope], cuts: Sequence[int]
) -> tuple[str, list[Checkpoint]]:
    """A migrated ledger holding `envelopes`, sealed in batches ending at `cuts`."""
    url = writer_url(owner_url)
    writer = LedgerWriter(url, signer)
    await writer.load()
    entries = entries_of(envelopes)
    checkpoints = []
    try:
        for lo, hi in itertools.pairwise([0, *cuts]):
            checkpoints.append((await writer.seal(entries[lo:hi], {"t:0": hi})).checkpoint)
    finally:
        await writer.close()
    return url, checkpoints
