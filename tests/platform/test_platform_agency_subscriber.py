"""The agency subscriber example on real Kafka: every partnership event printed exactly
once, in each agreement's order, across redeliveries and a restart."""

from __future__ import annotations

import ast
import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import pytest
from aiokafka import AIOKafkaProducer
from salur_contracts.base import IntegrationEvent, example_event
from salur_contracts.cloudevents import encode, new_envelope
from salur_contracts.partnerships import (
    AgreementSigned,
    ProposalSubmitted,
    RealisationReported,
    TrancheDisbursed,
)

pytestmark = pytest.mark.integration

E = TypeVar("E", bound=IntegrationEvent)
EXAMPLE = Path(__file__).parents[2] / "examples/agency_subscriber/agency_subscriber.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agency_subscriber", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


subscriber = load_example()


def example_with(event: type[E], **fields: object) -> E:
    """The catalogue's example of `event`, with some fields changed (and validated)."""
    return event.model_validate(example_event(event).model_dump() | fields)


def agreement_events(agreement_id: uuid.UUID) -> list[IntegrationEvent]:
    """An agreement's public events in version order 1, 2, 3, 4."""
    return [
        example_with(AgreementSigned, agreement_id=agreement_id),
        example_with(TrancheDisbursed, agreement_id=agreement_id),
        example_with(RealisationReported, agreement_id=agreement_id),
        example_with(
            TrancheDisbursed,
            agreement_id=agreement_id,
            tranche_number=2,
            transfer_reference="BRI-2",
            amount="30000000.00",
        ),
    ]


async def publish(bootstrap: str, topic: str, sends: list[tuple[IntegrationEvent, int]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for event, version in sends:
            record = encode(
                new_envelope(event, aggregate_version=version, id=f"{event.subject}:{version}")
            )
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=record.headers
            )
        await producer.send_and_wait(topic, b"garbage", key=b"junk")
    finally:
        await producer.stop()


async def follow(bootstrap: str, topic: str, group: str, state: Path) -> list[str]:
    lines: list[str] = []
    await subscriber.follow(
        bootstrap_servers=bootstrap,
        group=group,
        topic=topic,
        state=state,
        idle_seconds=3.0,
        out=lines.append,
    )
    return lines


def kinds_of(lines: list[str], agreement_id: uuid.UUID) -> list[str]:
    return [line.split()[1] for line in lines if f"agreement {agreement_id}" in line]


async def test_the_agency_subscriber_prints_each_event_once_in_agreement_order(
    kafka_bootstrap_servers: str, unique_topic: str, tmp_path: Path
) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    a_events, b_events = agreement_events(a), agreement_events(b)
    proposal = example_with(ProposalSubmitted, proposal_id=uuid.uuid4())
    # Interleaved agreements, a redelivered tranche, and a relay repeating B's whole tail.
    await publish(
        kafka_bootstrap_servers,
        unique_topic,
        [
            (a_events[0], 1),
            (b_events[0], 1),
            (a_events[1], 2),
            (proposal, 1),
            (a_events[1], 2),
            (b_events[1], 2),
            (b_events[0], 1),
            (b_events[1], 2),
            (a_events[2], 3),
        ],
    )
    group, state = f"agency-{uuid.uuid4().hex[:8]}", tmp_path / "printed.json"
    lines = await follow(kafka_bootstrap_servers, unique_topic, group, state)
    assert kinds_of(lines, a) == ["commitment", "disbursement", "expenditure"]
    assert kinds_of(lines, b) == ["commitment", "disbursement"]
    assert len(lines) == 5, "the proposal and the garbage print nothing"
    [commitment] = [line for line in lines if f"agreement {a}" in line and "commitment" in line]
    assert "(IATI 2)" in commitment
    assert "IDR      75,000,000.00" in commitment
    assert "PT Sinar Nusantara Tbk -> BKM Sejahtera Bersama" in commitment
    assert commitment.startswith("2027-02-01  commitment")

    # Restarted: only what is new is printed, even when old events come again.
    await publish(kafka_bootstrap_servers, unique_topic, [(a_events[2], 3), (a_events[3], 4)])
    again = await follow(kafka_bootstrap_servers, unique_topic, group, state)
    assert kinds_of(again, a) == ["disbursement"]
    assert "IDR      30,000,000.00" in again[0]
    assert len(again) == 1


def test_the_example_needs_only_the_contracts_package_and_a_kafka_client() -> None:
    tree = ast.parse(EXAMPLE.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            imported.add(node.module.split(".")[0])
    assert imported - sys.stdlib_module_names == {"aiokafka", "salur_contracts"}
