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
from typing import Any

import rfc8785
from salur_contracts.cloudevents import (
    CONTENT_TYPE,
    REQUIRED_HEADERS,
    SPEC_VERSION,
    MalformedEventError,
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

    Well-formed means the binary-mode envelope (every required attribute, spec version,
    JSON content, key = subject, an RFC 3339 time) and a JSON object as data. The data is
    not validated against the catalogue: the ledger keeps what was published, a type newer
    than this catalogue or a payload its producer got wrong included; the replay is where
    a payload's meaning is judged.
    """
    attributes: dict[str, str] = {}
    for name, raw in headers:
        if raw is None or name in attributes:
            raise MalformedEventError(f"header {name} is repeated or has no value")
        try:
            attributes[name] = raw.decode()
        except UnicodeDecodeError:
            raise MalformedEventError(f"header {name} is not UTF-8") from None
    _check_envelope(attributes, key)
    if value is None:
        raise MalformedEventError("record has no value (a tombstone is not an event)")
    try:
        data, plain = _data_of(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedEventError(f"data is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise MalformedEventError("data is not a JSON object")
    document: dict[str, object] = {
        name.removeprefix("ce_"): text
        for name, text in attributes.items()
        if name.startswith("ce_")
    }
    if "content-type" in attributes:
        document["datacontenttype"] = attributes["content-type"]
    document["data"] = data
    try:
        canonical = canonical_bytes(document, plain=plain and all(map(str.isascii, document)))
    except rfc8785.CanonicalizationError as error:
        raise MalformedEventError(f"data has no canonical JSON form: {error}") from None
    return Entry(
        source=attributes["ce_source"],
        event_id=attributes["ce_id"],
        type=attributes["ce_type"],
        subject=attributes["ce_subject"],
        time=_time_of(attributes["ce_time"]),
        topic=topic,
        partition=partition,
        offset=offset,
        canonical=canonical,
    )


_MAX_INTEGER = 2**53 - 1


class _NotPlainError(ValueError):
    """A number RFC 8785 writes differently from Python's dump (a float, a big integer)."""


def _not_plain(text: str) -> object:
    raise _NotPlainError(text)


def _integer(text: str) -> int:
    value = int(text)
    if -_MAX_INTEGER <= value <= _MAX_INTEGER:
        return value
    raise _NotPlainError(text)


_PLAIN_DECODE = json.JSONDecoder(
    parse_float=_not_plain, parse_int=_integer, parse_constant=_not_plain
).decode


def _data_of(value: bytes) -> tuple[Any, bool]:
    """The record's JSON, and whether canonical_bytes' fast path holds for it, learnt while
    parsing (a walk over the parsed data took a third of the time of a whole entry).

    Plain text (all ASCII, no \\u escape, so every key is ASCII) is parsed with numbers
    checked as they are read; anything else, or a number that is not plain, is parsed by
    json.loads as before and left for canonical_bytes to check.
    """
    try:
        text = value.decode()
        if text.isascii() and "\\u" not in text:
            return _PLAIN_DECODE(text), True
    except ValueError:  # not UTF-8, not JSON, or not plain: json.loads decides
        pass
    return json.loads(value), False


def _check_envelope(attributes: dict[str, str], key: bytes | None) -> None:
    if attributes.get("ce_specversion") != SPEC_VERSION:
        raise MalformedEventError("not a CloudEvents 1.0 binary-mode record")
    missing = [name for name in REQUIRED_HEADERS if not attributes.get(name)]
    if missing:
        raise MalformedEventError(f"missing header(s): {', '.join(missing)}")
    content_type = attributes.get("content-type", CONTENT_TYPE)
    if content_type.split(";")[0].strip().lower() != CONTENT_TYPE:
        raise MalformedEventError(f"content-type {content_type!r} is not {CONTENT_TYPE}")
    if key is not None and key != attributes["ce_subject"].encode():
        raise MalformedEventError("record key differs from ce_subject")


def _time_of(text: str) -> dt.datetime:
    try:
        time = dt.datetime.fromisoformat(text)
    except ValueError:
        raise MalformedEventError(f"header ce_time {text!r} is not an RFC 3339 time") from None
    if time.tzinfo is None:
        raise MalformedEventError(f"header ce_time {text!r} has no UTC offset")
    return time


_RAW_DECODE = json.JSONDecoder().raw_decode


def document_of(canonical: bytes) -> Any:
    """The JSON value of stored bytes: a CloudEvent object for every entry the writer made.

    Decoding the text first and reading one value skips json.loads' encoding detection and
    wrappers (a quarter of the parse of a one-kilobyte entry, which verify and replay read a
    million times). Bytes it does not take whole (a BOM, surrounding whitespace, invalid UTF-8 or
    JSON) go through json.loads, so what is accepted or refused is exactly json.loads'.
    """
    try:
        text = canonical.decode()
        document, end = _RAW_DECODE(text)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError included
        return json.loads(canonical)
    if end != len(text):
        return json.loads(canonical)
    return document
