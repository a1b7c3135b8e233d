"""CloudEvents 1.0 in Kafka binary mode, with no Kafka client dependency.

Attributes travel as `ce_*` headers and the record value is the event's JSON alone, so any
Kafka client in any language can read the data; the key is the aggregate id, so one
aggregate's events land on one partition, in order. Salur adds two extension attributes:
`ce_aggregateversion` (the aggregate's version after this event, for idempotent consumers)
and `ce_traceparent` (the W3C trace context of the act that caused the event).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

from salur_contracts.base import IntegrationEvent, UnknownEventTypeError, lookup

__all__ = [
    "CONTENT_TYPE",
    "SCHEMA_BASE_URL",
    "SPEC_VERSION",
    "Envelope",
    "KafkaRecord",
    "MalformedEventError",
    "UnknownEventTypeError",
    "dataschema_for",
    "decode",
    "encode",
    "new_envelope",
    "source_for",
]

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
SCHEMA_BASE_URL = "https://salur.id/schemas/"

Headers = list[tuple[str, bytes]]


class MalformedEventError(ValueError):
    """A record that is not a valid Salur CloudEvent; consumers dead-letter it with the reason."""


def source_for(event: type[IntegrationEvent] | IntegrationEvent) -> str:
    """The CloudEvents `source` of a service, a URI-reference such as `/salur/registry`."""
    return f"/salur/{event.source_service}"


def dataschema_for(event_type: str) -> str:
    """The URI of an event type's JSON Schema; also the schema's `$id`."""
    return f"{SCHEMA_BASE_URL}{event_type}.json"


@dataclass(frozen=True)
class Envelope:
    """One CloudEvent: context attributes plus the typed event."""

    id: str
    source: str
    type: str
    subject: str
    time: dt.datetime
    data: IntegrationEvent
    dataschema: str
    aggregate_version: int
    traceparent: str | None = None

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError("envelope time must be timezone-aware")
        if self.aggregate_version < 0:
            raise ValueError("aggregate_version must not be negative")
        if not self.id:
            raise ValueError("envelope id must not be empty")


@dataclass(frozen=True)
class KafkaRecord:
    """What a producer sends; the topic is the caller's (normally `data.topic()`)."""

    key: bytes
    value: bytes
    headers: Headers


def new_envelope(
    data: IntegrationEvent,
    *,
    aggregate_version: int,
    time: dt.datetime | None = None,
    id: str | None = None,
    traceparent: str | None = None,
) -> Envelope:
    """Wrap an event, deriving type, source, subject and dataschema from its class."""
    event_type = data.event_type()
    return Envelope(
        id=id or str(uuid.uuid4()),
        source=source_for(data),
        type=event_type,
        subject=data.subject,
        time=time or dt.datetime.now(dt.UTC),
        data=data,
        dataschema=dataschema_for(event_type),
        aggregate_version=aggregate_version,
        traceparent=traceparent,
    )


def _rfc3339(time: dt.datetime) -> str:
    return time.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def encode(envelope: Envelope) -> KafkaRecord:
    """The Kafka record of an envelope, in CloudEvents binary mode."""
    headers: list[tuple[str, str]] = [
        ("ce_specversion", SPEC_VERSION),
        ("ce_id", envelope.id),
        ("ce_source", envelope.source),
        ("ce_type", envelope.type),
        ("ce_subject", envelope.subject),
        ("ce_time", _rfc3339(envelope.time)),
        ("ce_dataschema", envelope.dataschema),
        ("ce_aggregateversion", str(envelope.aggregate_version)),
    ]
    if envelope.traceparent is not None:
        headers.append(("ce_traceparent", envelope.traceparent))
    headers.append(("content-type", CONTENT_TYPE))
    return KafkaRecord(
        key=envelope.subject.encode(),
        value=envelope.data.model_dump_json().encode(),
        headers=[(name, value.encode()) for name, value in headers],
    )


REQUIRED_HEADERS = (
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_subject",
    "ce_time",
    "ce_dataschema",
    "ce_aggregateversion",
)


def _header_text(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    text: dict[str, str] = {}
    for name, raw in headers:
        if name in text:
            raise MalformedEventError(f"header {name} appears more than once")
        if raw is None:
            raise MalformedEventError(f"header {name} has no value")
        try:
            text[name] = raw.decode()
        except UnicodeDecodeError:
            raise MalformedEventError(f"header {name} is not UTF-8") from None
    return text


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '(data)'}: {item['msg']}"
        for item in error.errors(include_url=False)
    )


def _parse_time(text: str) -> dt.datetime:
    try:
        time = dt.datetime.fromisoformat(text)
    except ValueError:
        raise MalformedEventError(f"header ce_time {text!r} is not an RFC 3339 time") from None
    if time.tzinfo is None:
        raise MalformedEventError(f"header ce_time {text!r} has no UTC offset")
    return time


def _parse_version(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise MalformedEventError(
            f"header ce_aggregateversion {text!r} is not a non-negative integer"
        )
    return int(text)


def _known_fields(event_class: type[IntegrationEvent], value: bytes) -> object:
    """The payload without fields this version of the catalogue does not know.

    Readers are tolerant: a producer may add an optional field within a version, and an
    agency on an older copy of this package must still read the event (see `compat`).
    """
    try:
        payload = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedEventError(f"data is not JSON: {error}") from None
    if isinstance(payload, dict):
        return {k: v for k, v in payload.items() if k in event_class.model_fields}
    return payload


def decode(
    key: bytes | None, value: bytes | None, headers: Iterable[tuple[str, bytes | None]]
) -> Envelope:
    """The envelope of a Kafka record, or the reason it cannot be one.

    Raises UnknownEventTypeError for a well-formed event of a type this catalogue does not
    know (perhaps a newer version) and MalformedEventError for anything else wrong.
    """
    attributes = _header_text(headers)
    specversion = attributes.get("ce_specversion")
    if specversion is None:
        raise MalformedEventError("header ce_specversion is missing: not a binary-mode CloudEvent")
    if specversion != SPEC_VERSION:
        raise MalformedEventError(f"unsupported CloudEvents specversion {specversion!r}")
    missing = [name for name in REQUIRED_HEADERS if not attributes.get(name)]
    if missing:
        raise MalformedEventError(f"missing header(s): {', '.join(missing)}")
    content_type = attributes.get("content-type", CONTENT_TYPE)
    if content_type.split(";")[0].strip().lower() != CONTENT_TYPE:
        raise MalformedEventError(f"content-type {content_type!r} is not {CONTENT_TYPE}")
    event_class = lookup(attributes["ce_type"])
    subject = attributes["ce_subject"]
    if key is not None and key != subject.encode():
        raise MalformedEventError(f"record key {key!r} differs from ce_subject {subject!r}")
    if value is None:
        raise MalformedEventError("record has no value (a tombstone is not an event)")
    try:
        data = event_class.model_validate(_known_fields(event_class, value))
    except ValidationError as error:
        raise MalformedEventError(
            f"data is not a valid {event_class.event_type()}: {_describe(error)}"
        ) from None
    if data.subject != subject:
        raise MalformedEventError(
            f"ce_subject {subject!r} differs from {event_class.subject_field} {data.subject!r}"
        )
    return Envelope(
        id=attributes["ce_id"],
        source=attributes["ce_source"],
        type=attributes["ce_type"],
        subject=subject,
        time=_parse_time(attributes["ce_time"]),
        data=data,
        dataschema=attributes["ce_dataschema"],
        aggregate_version=_parse_version(attributes["ce_aggregateversion"]),
        traceparent=attributes.get("ce_traceparent"),
    )
