"""`salur events tail` on real Kafka: readable CloudEvents, filtered by type, from the
beginning or from now on, with exit codes a script can rely on."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from aiokafka import AIOKafkaProducer
from salur_contracts.base import example_event
from salur_contracts.cloudevents import encode, new_envelope
from salur_contracts.partnerships import AgreementSigned, TrancheDisbursed
from salur_contracts.registry import BkmRegistered
from salur_kit import cli

pytestmark = pytest.mark.integration
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def publish(
    bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]
) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for key, value, headers in records:
                await producer.send_and_wait(topic, value, key=key, headers=headers)
        finally:
            await producer.stop()

    asyncio.run(send())


def cloudevent(
    event: type[BkmRegistered] | type[AgreementSigned] | type[TrancheDisbursed], version: int
) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    record = encode(
        new_envelope(example_event(event), aggregate_version=version, traceparent=TRACEPARENT)
    )
    return record.key, record.value, record.headers


def tail(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(["events", "tail", *args])
    return code, capsys.readouterr().out


def test_tail_from_the_beginning_prints_each_event_readably_and_names_poison(
    kafka_bootstrap_servers: str, unique_topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # One partition key for all, so the order on the topic is the order sent.
    registered = cloudevent(BkmRegistered, 1)
    publish(kafka_bootstrap_servers, unique_topic, [registered, (registered[0], b"{not json", [])])
    code, out = tail(
        capsys,
        "--topic",
        unique_topic,
        "--from-beginning",
        "--limit",
        "2",
        "--idle-timeout",
        "15",
        "--bootstrap-servers",
        kafka_bootstrap_servers,
    )
    assert code == 0
    first, second = out.split("\n── ")[0], out.splitlines()[-1]
    assert first.startswith("── salur.registry.BkmRegistered.v1  ")
    subject = example_event(BkmRegistered).bkm_id
    assert f"subject {subject}  version 1  trace {TRACEPARENT.split('-')[1]}" in first
    assert f'"name": "{example_event(BkmRegistered).name}"' in first
    assert f"{unique_topic}/" in second
    assert "not a Salur CloudEvent: header ce_specversion is missing" in second


def test_tail_filters_by_type_pattern_and_prints_structured_json(
    kafka_bootstrap_servers: str, unique_topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    publish(
        kafka_bootstrap_servers,
        unique_topic,
        [
            cloudevent(BkmRegistered, 1),
            cloudevent(AgreementSigned, 1),
            cloudevent(TrancheDisbursed, 2),
            (b"x", b"junk", []),
        ],
    )
    code, out = tail(
        capsys,
        "--topic",
        unique_topic,
        "--from-beginning",
        "--type",
        "salur.partnerships.*",
        "--format",
        "json",
        "--limit",
        "2",
        "--idle-timeout",
        "15",
        "--bootstrap-servers",
        kafka_bootstrap_servers,
    )
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["type"] for e in events] == [
        "salur.partnerships.AgreementSigned.v1",
        "salur.partnerships.TrancheDisbursed.v1",
    ]
    assert [e["aggregateversion"] for e in events] == [1, 2]
    assert events[0]["specversion"] == "1.0"
    assert events[0]["source"] == "/salur/partnerships"
    assert events[0]["traceparent"] == TRACEPARENT
    assert events[0]["data"] == example_event(AgreementSigned).model_dump(mode="json")


def test_tail_without_from_beginning_prints_only_what_arrives_after_it_started(
    kafka_bootstrap_servers: str, unique_topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    publish(kafka_bootstrap_servers, unique_topic, [cloudevent(BkmRegistered, 1)])
    outcome: list[int] = []
    follower = threading.Thread(
        target=lambda: outcome.append(
            cli.main(
                [
                    "events",
                    "tail",
                    "--topic",
                    unique_topic,
                    "--limit",
                    "1",
                    "--idle-timeout",
                    "30",
                    "--format",
                    "json",
                    "--bootstrap-servers",
                    kafka_bootstrap_servers,
                ]
            )
        )
    )
    capsys.readouterr()
    follower.start()
    deadline = time.monotonic() + 30
    while follower.is_alive() and time.monotonic() < deadline:
        # Keep publishing until the tail, once positioned at the end, sees one.
        publish(kafka_bootstrap_servers, unique_topic, [cloudevent(AgreementSigned, 1)])
        follower.join(timeout=0.5)
    follower.join(timeout=5)
    assert outcome == [0]
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["type"] == "salur.partnerships.AgreementSigned.v1"


def test_tail_exits_1_when_the_limit_is_not_reached_or_the_topic_is_missing(
    kafka_bootstrap_servers: str, unique_topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    publish(kafka_bootstrap_servers, unique_topic, [cloudevent(BkmRegistered, 1)])
    code, out = tail(
        capsys,
        "--topic",
        unique_topic,
        "--from-beginning",
        "--limit",
        "3",
        "--idle-timeout",
        "2",
        "--bootstrap-servers",
        kafka_bootstrap_servers,
    )
    assert code == 1
    assert out.count("── salur.registry.BkmRegistered.v1") == 1
    code, out = tail(
        capsys, "--topic", "salur.nothing.events.v9", "--bootstrap-servers", kafka_bootstrap_servers
    )
    assert code == 1
    assert "no such topic: salur.nothing.events.v9" in out


def test_tail_refuses_a_type_the_catalogue_does_not_know_as_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as usage:
        cli.main(["events", "tail", "--type", "salur.registry.BkmRegisterd.v1"])
    assert usage.value.code == 2
    assert "matches no event type in the catalogue" in capsys.readouterr().err
