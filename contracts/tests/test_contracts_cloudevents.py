"""CloudEvents Kafka binary mode: what a producer sends is exactly what a consumer decodes."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from salur_contracts import registry
from salur_contracts.base import IntegrationEvent, example_event
from salur_contracts.cloudevents import (
    SCHEMA_BASE_URL,
    Envelope,
    KafkaRecord,
    MalformedEventError,
    UnknownEventTypeError,
    decode,
    encode,
    new_envelope,
)
from salur_contracts.schemas import public_events

pytestmark = pytest.mark.unit

TIME = dt.datetime(2026, 3, 1, 9, 15, 30, 123456, tzinfo=dt.UTC)
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _record() -> KafkaRecord:
    envelope = new_envelope(
        example_event(registry.BkmRegistered), aggregate_version=3, time=TIME, traceparent=TRACE
    )
    return encode(envelope)


def _headers(record: KafkaRecord) -> dict[str, bytes]:
    return dict(record.headers)


def _with(record: KafkaRecord, changes: dict[str, bytes | None]) -> list[tuple[str, bytes]]:
    """The record's headers with some replaced (or, for None, removed)."""
    kept = [(name, value) for name, value in record.headers if name not in changes]
    return kept + [(name, value) for name, value in changes.items() if value is not None]


@pytest.mark.parametrize("event", public_events(), ids=lambda e: e.__name__)
def test_every_catalogue_event_survives_encode_and_decode(event: type[IntegrationEvent]) -> None:
    envelope = new_envelope(example_event(event), aggregate_version=7, time=TIME, traceparent=TRACE)
    record = encode(envelope)
    assert decode(record.key, record.value, record.headers) == envelope


def test_writes_the_cloudevents_binary_headers() -> None:
    event = example_event(registry.BkmRegistered)
    envelope = new_envelope(event, aggregate_version=3, time=TIME, id="evt-1", traceparent=TRACE)
    record = encode(envelope)
    assert record.key == str(event.bkm_id).encode()
    assert json.loads(record.value) == event.model_dump(mode="json")
    assert record.headers == [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"evt-1"),
        ("ce_source", b"/salur/registry"),
        ("ce_type", b"salur.registry.BkmRegistered.v1"),
        ("ce_subject", str(event.bkm_id).encode()),
        ("ce_time", b"2026-03-01T09:15:30.123456Z"),
        (
            "ce_dataschema",
            f"{SCHEMA_BASE_URL}salur.registry.BkmRegistered.v1.json".encode(),
        ),
        ("ce_aggregateversion", b"3"),
        ("ce_traceparent", TRACE.encode()),
        ("content-type", b"application/json"),
    ]


def test_leaves_out_the_traceparent_when_there_is_none() -> None:
    envelope = new_envelope(example_event(registry.BkmVerified), aggregate_version=1)
    record = encode(envelope)
    assert "ce_traceparent" not in _headers(record)
    assert decode(record.key, record.value, record.headers).traceparent is None


def test_new_envelope_fills_id_and_current_time() -> None:
    envelope = new_envelope(example_event(registry.BkmVerified), aggregate_version=1)
    assert envelope.id
    assert envelope.time.tzinfo is not None
    assert envelope.subject == "3f2b8c1e-6d4a-4c7b-9a51-2e8f0d6b7c90"


def test_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        new_envelope(
            example_event(registry.BkmVerified), aggregate_version=1, time=dt.datetime(2026, 1, 1)
        )


def test_reads_a_time_with_any_utc_offset() -> None:
    record = _record()
    headers = _with(record, {"ce_time": b"2026-03-01T16:15:30.123456+07:00"})
    assert decode(record.key, record.value, headers).time == TIME


def test_decodes_without_a_key_or_content_type() -> None:
    record = _record()
    headers = [(n, v) for n, v in record.headers if n != "content-type"]
    assert decode(None, record.value, headers).type == "salur.registry.BkmRegistered.v1"


def test_refuses_an_unknown_event_type() -> None:
    record = _record()
    with pytest.raises(UnknownEventTypeError, match=r"salur\.registry\.BkmExploded\.v1"):
        decode(
            record.key, record.value, _with(record, {"ce_type": b"salur.registry.BkmExploded.v1"})
        )


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"ce_specversion": None}, "ce_specversion is missing"),
        ({"ce_specversion": b"0.3"}, "unsupported CloudEvents specversion"),
        ({"ce_id": None}, "missing header.*ce_id"),
        ({"ce_type": None}, "missing header.*ce_type"),
        ({"ce_aggregateversion": None}, "missing header.*ce_aggregateversion"),
        ({"ce_aggregateversion": b"-1"}, "not a non-negative integer"),
        ({"ce_aggregateversion": b"three"}, "not a non-negative integer"),
        ({"ce_time": b"yesterday"}, "not an RFC 3339 time"),
        ({"ce_time": b"2026-03-01T09:15:30"}, "no UTC offset"),
        ({"content-type": b"application/avro"}, "is not application/json"),
        ({"ce_subject": b"8a1d5e22-0b3c-4f6e-a7d9-51c2e4b6f803"}, "differs from"),
        ({"ce_source": b"\xff"}, "not UTF-8"),
    ],
)
def test_refuses_bad_headers_with_a_readable_reason(
    headers: dict[str, bytes | None], reason: str
) -> None:
    record = _record()
    with pytest.raises(MalformedEventError, match=reason):
        decode(record.key, record.value, _with(record, headers))


def test_refuses_a_repeated_header() -> None:
    record = _record()
    with pytest.raises(MalformedEventError, match="more than once"):
        decode(record.key, record.value, [*record.headers, ("ce_id", b"again")])


def test_refuses_a_header_without_a_value() -> None:
    record = _record()
    headers: list[tuple[str, bytes | None]] = [*record.headers, ("ce_extra", None)]
    with pytest.raises(MalformedEventError, match="has no value"):
        decode(record.key, record.value, headers)


def test_refuses_a_key_that_is_not_the_subject() -> None:
    record = _record()
    with pytest.raises(MalformedEventError, match="record key"):
        decode(b"someone-else", record.value, record.headers)


def test_refuses_a_tombstone() -> None:
    record = _record()
    with pytest.raises(MalformedEventError, match="tombstone"):
        decode(record.key, None, record.headers)


def test_refuses_data_that_is_not_json() -> None:
    record = _record()
    with pytest.raises(MalformedEventError, match="data is not JSON"):
        decode(record.key, b"{not json", record.headers)


def test_a_reader_ignores_fields_a_newer_producer_added() -> None:
    record = _record()
    data = json.loads(record.value)
    data["kecamatan_name"] = "Coblong"
    envelope = decode(record.key, json.dumps(data).encode(), record.headers)
    assert envelope.data == example_event(registry.BkmRegistered)


def test_refuses_data_that_breaks_the_schema_naming_the_field() -> None:
    record = _record()
    data = json.loads(record.value)
    data["region_code"] = "32.7"
    with pytest.raises(MalformedEventError, match="region_code: region code must be"):
        decode(record.key, json.dumps(data).encode(), record.headers)


def test_refuses_data_with_a_missing_field() -> None:
    record = _record()
    data = json.loads(record.value)
    del data["name"]
    with pytest.raises(MalformedEventError, match="name: Field required"):
        decode(record.key, json.dumps(data).encode(), record.headers)


def test_envelope_is_a_frozen_value() -> None:
    record = _record()
    envelope = decode(record.key, record.value, record.headers)
    assert isinstance(envelope, Envelope)
    with pytest.raises(AttributeError):
        envelope.id = "x"  # type: ignore[misc]
