"""A Kafka record as the ledger stores it: one CloudEvent as a canonical JSON object.

The object holds every `ce_*` attribute under its CloudEvents name plus `data`, the
record's JSON exactly as published (fields this catalogue does not know included): the
ledger keeps what was said, not what this version of the code understands of it. RFC 8785
makes the bytes, and so the leaf hash, independent of header order and JSON spacing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

import rfc8785
from salur_contracts.cloudevents import (
    MalformedEventError,
    UnknownEventTypeError,
    decode,
)

from salur_audit.verifier import canonical_bytes

Headers = Iterable[tuple[str, bytes | None]]


@dataclass(frozen=True)
class Entry:
    """What one ledger row holds, before it has a sequence number."""

    source: str
    event_id: str
    type: str
    subject: str
    time: dt.datetime
    topic: str
    partition: int
    offset: int
    canonical: bytes

    @property
    def identity(self) -> tuple[str, str]:
        """CloudEvents identity: a relay repeat carries the same (source, id)."""
        return (self.source, self.event_id)


def entry_of(
    *,
    key: bytes | None,
    value: bytes | None,
    headers: Headers,
    topic: str,
    partition: int,
    offset: int,
) -> Entry:
    """The entry of a record; MalformedEventError when it is not a well-formed CloudEvent.

    A type missing from this catalogue (a newer version) is still a CloudEvent and is kept.
    """
    header_list = list(headers)
    try:
        envelope = decode(key, value, header_list)
        time = envelope.time
    except UnknownEventTypeError:
        time = _time_of(header_list)
    if value is None:
        raise MalformedEventError("record has no value (a tombstone is not an event)")
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedEventError(f"data is not JSON: {error}") from None
    attributes = {
        name.removeprefix("ce_"): raw.decode()
        for name, raw in header_list
        if name.startswith("ce_") and raw is not None
    }
    content_type = dict(header_list).get("content-type")
    if content_type is not None:
        attributes["datacontenttype"] = content_type.decode()
    try:
        canonical = canonical_bytes({**attributes, "data": data})
    except rfc8785.CanonicalizationError as error:
        raise MalformedEventError(f"data has no canonical JSON form: {error}") from None
    return Entry(
        source=attributes["source"],
        event_id=attributes["id"],
        type=attributes["type"],
        subject=attributes["subject"],
        time=time,
        topic=topic,
        partition=partition,
        offset=offset,
        canonical=canonical,
    )


def _time_of(headers: list[tuple[str, bytes | None]]) -> dt.datetime:
    raw = dict(headers).get("ce_time")
    try:
        time = dt.datetime.fromisoformat((raw or b"").decode())
    except ValueError:
        raise MalformedEventError("header ce_time is not an RFC 3339 time") from None
    if time.tzinfo is None:
        raise MalformedEventError("header ce_time has no UTC offset")
    return time


def document_of(canonical: bytes) -> dict[str, object]:
    """The CloudEvent object of a stored entry."""
    document: dict[str, object] = json.loads(canonical)
    return document
