"""Canonical bytes: the fast path is byte for byte RFC 8785, and a record becomes one entry."""

from __future__ import annotations

import functools
import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from salur_audit.canonical import entry_of
from salur_audit.testing import Story
from salur_audit.verifier import canonical_bytes
from salur_contracts.cloudevents import KafkaRecord, MalformedEventError, encode

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_canonical_bytes_equal_the_reference_rfc8785_serializer(
    document: dict[str, object],
) -> None:
    try:
        expected = rfc8785.dumps(document)  # type: ignore[arg-type]
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        return
    assert canonical_bytes(document) == expected


def test_floats_and_big_integers_take_the_reference_path() -> None:
    assert canonical_bytes({"b": 1.5e-7, "a": 10.0}) == rfc8785.dumps({"b": 1.5e-7, "a": 10.0})
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_bytes({"n": 2**60})


def test_an_entry_holds_every_attribute_and_the_data_as_published() -> None:
    envelope = Story.of(1).events[1]
    record = encode(envelope)
    extended = json.dumps({**json.loads(record.value), "added_later": "kept"}).encode()
    entry = entry_of(
        key=record.key, value=extended, headers=record.headers, topic="t", partition=2, offset=9
    )
    document = json.loads(entry.canonical)
    assert document["id"] == envelope.id
    assert document["type"] == envelope.type
    assert document["aggregateversion"] == "1"
    assert document["datacontenttype"] == "application/json"
    assert document["data"]["added_later"] == "kept"
    assert entry.canonical == rfc8785.dumps(document)
    reordered = list(reversed(record.headers))
    again = entry_of(
        key=record.key, value=extended, headers=reordered, topic="t", partition=2, offset=9
    )
    assert again.canonical == entry.canonical


@pytest.mark.parametrize(
    "broken",
    [
        {"value": b"{not json"},
        {"value": None},
        {"headers": []},
    ],
)
def test_a_record_that_is_no_cloudevent_is_refused(broken: dict[str, object]) -> None:
    record = encode(Story.of(1).events[1])
    fields: dict[str, object] = {
        "key": record.key,
        "value": record.value,
        "headers": record.headers,
    }
    fields.update(broken)
    with pytest.raises(MalformedEventError):
        entry_of(topic="t", partition=0, offset=0, **fields)  # type: ignore[arg-type]


def test_an_unknown_event_type_is_still_recorded() -> None:
    record = encode(Story.of(1).events[1])
    headers = [
        (k, b"salur.partnerships.Future.v9" if k == "ce_type" else v) for k, v in record.headers
    ]
    entry = entry_of(
        key=record.key, value=record.value, headers=headers, topic="t", partition=0, offset=0
    )
    assert entry.type == "salur.partnerships.Future.v9"


@functools.cache
def _a_record() -> KafkaRecord:
    return encode(Story.of(1).events[1])


any_numbers = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=8), any_numbers, max_size=6), st.booleans())
def test_an_entry_of_any_published_json_is_byte_for_byte_rfc8785_or_refused(
    data: dict[str, object], escaped: bool
) -> None:
    """Floats, integers beyond 2**53, non-ASCII and escaped keys: whichever way the record
    is parsed, the entry's bytes are the reference serializer's, or the record is refused
    exactly when the reference refuses it."""
    record = _a_record()
    value = json.dumps(data, ensure_ascii=escaped).encode()
    document = json.loads(
        entry_of(
            key=record.key,
            value=record.value,
            headers=record.headers,
            topic="t",
            partition=0,
            offset=0,
        ).canonical
    )
    document["data"] = json.loads(value)
    try:
        expected = rfc8785.dumps(document)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        with pytest.raises(MalformedEventError):
            entry_of(
                key=record.key,
                value=value,
                headers=record.headers,
                topic="t",
                partition=0,
                offset=0,
            )
        return
    entry = entry_of(
        key=record.key, value=value, headers=record.headers, topic="t", partition=0, offset=0
    )
    assert entry.canonical == expected
