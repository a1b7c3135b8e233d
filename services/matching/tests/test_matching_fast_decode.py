"""The rebuild's fast decoding accepts and refuses exactly what the live consumer's
`cloudevents.decode` does, and skips only types that change no fact; matching's own
records give the pair and version of each published match."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from aiokafka.structs import ConsumerRecord
from salur_contracts.base import example_event
from salur_contracts.cloudevents import (
    KafkaRecord,
    MalformedEventError,
    UnknownEventTypeError,
    decode,
    encode,
    new_envelope,
)
from salur_contracts.matching import MatchWithdrawn
from salur_contracts.planning import PlanSubmitted
from salur_matching.examples import ActivitySpec, Feed, OpportunitySpec
from salur_matching.rebuild import Published, fast_decode

pytestmark = pytest.mark.unit

Headers = list[tuple[str, bytes]]


def record(key: bytes | None, value: bytes, headers: Headers) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("t", 0, 0, 0, 0, key, value, None, 0, 0, headers)


def opened() -> tuple[bytes, bytes, Headers]:
    feed = Feed()
    bkm_id = uuid.uuid4()
    feed.activity(ActivitySpec(bkm_id=bkm_id, bkm_region="32.73.01.1001"), open_for=Decimal(1))
    event, version = feed.events[-1]
    r = encode(new_envelope(event, aggregate_version=version))
    return r.key, r.value, r.headers


def _set(name: str, value: bytes) -> Callable[[bytes, bytes, Headers], tuple]:  # type: ignore[type-arg]
    def change(k: bytes, v: bytes, h: Headers) -> tuple:  # type: ignore[type-arg]
        return k, v, [(n, value if n == name else old) for n, old in h]

    return change


def _data(**changes: object) -> Callable[[bytes, bytes, Headers], tuple]:  # type: ignore[type-arg]
    def change(k: bytes, v: bytes, h: Headers) -> tuple:  # type: ignore[type-arg]
        return k, json.dumps({**json.loads(v), **changes}).encode(), h

    return change


VARIANTS = {
    "as produced": lambda k, v, h: (k, v, h),
    "an unknown field of a newer producer": _data(newer_optional_field="x"),
    "money as a float": _data(amount_needed=1.5),
    "not JSON": lambda k, v, h: (k, b"{not json", h),
    "key differs from subject": lambda k, v, h: (b"other", v, h),
    "no ce_id": lambda k, v, h: (k, v, [(n, x) for n, x in h if n != "ce_id"]),
    "a duplicate header": lambda k, v, h: (k, v, [*h, h[0]]),
    "a header without a value": lambda k, v, h: (k, v, [*h, ("ce_traceparent", None)]),
    "no value (a tombstone)": lambda k, v, h: (k, None, h),
    "no key": lambda k, v, h: (None, v, h),
    "another content type": lambda k, v, h: (k, v, [*h[:-1], ("content-type", b"text/plain")]),
    "another specversion": _set("ce_specversion", b"0.3"),
    "a time without offset": _set("ce_time", b"2026-11-29T10:00:00"),
    "a negative version": _set("ce_aggregateversion", b"-1"),
    "an unknown type": _set("ce_type", b"salur.planning.Nope.v9"),
    "a subject that is not the data's": _set("ce_subject", str(uuid.uuid4()).encode()),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_fast_decoding_agrees_with_the_consumers_decoding(variant: str) -> None:
    key, value, headers = VARIANTS[variant](*opened())
    try:
        expected = decode(key, value, headers)
    except (MalformedEventError, UnknownEventTypeError) as error:
        with pytest.raises(type(error)):
            fast_decode(record(key, value, headers))
        return
    got = fast_decode(record(key, value, headers))
    assert got == (expected.data, expected.aggregate_version)


def test_a_type_that_changes_no_fact_is_skipped_without_validation() -> None:
    submitted = PlanSubmitted(
        plan_id=uuid.uuid4(),
        bkm_id=uuid.uuid4(),
        region_code="32.73.01.1001",
        plan_version=1,
        activity_count=1,
        total_cost=Decimal(1),
        submitted_by="operator",
    )
    r = encode(new_envelope(submitted, aggregate_version=3))
    assert fast_decode(record(r.key, r.value, r.headers)) is None


def test_an_opportunity_event_is_decoded_with_its_version() -> None:
    feed = Feed()
    feed.publish(OpportunitySpec(partner_id=uuid.uuid4()))
    event, _version = feed.events[-1]
    r = encode(new_envelope(event, aggregate_version=7))
    assert fast_decode(record(r.key, r.value, r.headers)) == (event, 7)


def _withdrawn(activity_id: uuid.UUID, opportunity_id: uuid.UUID, version: int) -> KafkaRecord:
    event = example_event(MatchWithdrawn).model_copy(
        update={"activity_id": activity_id, "opportunity_id": opportunity_id}
    )
    return encode(new_envelope(event, aggregate_version=version))


def test_a_published_match_gives_its_pair_and_version_whatever_its_json_layout() -> None:
    activity_id, opportunity_id = uuid.uuid4(), uuid.uuid4()
    r = _withdrawn(activity_id, opportunity_id, 4)
    other_layout = json.dumps(json.loads(r.value), indent=1, sort_keys=True).encode()
    for value in (r.value, other_layout):
        published = Published()
        assert published.take(record(r.key, value, r.headers))
        assert published.versions == {(activity_id, opportunity_id): 4}


def test_the_latest_published_version_of_a_match_is_kept() -> None:
    activity_id, opportunity_id = uuid.uuid4(), uuid.uuid4()
    published = Published()
    for version in (1, 3, 2):
        r = _withdrawn(activity_id, opportunity_id, version)
        assert published.take(record(r.key, r.value, r.headers))
    assert published.versions == {(activity_id, opportunity_id): 3}


@pytest.mark.parametrize(
    "value",
    [b"{not json", b"[]", b'{"activity_id": "x"}', b'{"match_id":"' + b"-" * 36 + b'"}'],
)
def test_a_record_on_matchings_topic_that_is_no_match_event_is_not_taken(value: bytes) -> None:
    r = _withdrawn(uuid.uuid4(), uuid.uuid4(), 2)
    published = Published()
    assert not published.take(record(r.key, value, r.headers))
    assert not published.take(
        record(r.key, r.value, [(n, v) for n, v in r.headers if n != "ce_type"])
    )
    assert published.versions == {}
