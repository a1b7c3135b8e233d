"""The relay's CloudEvent ids: the same event always gets the same id, a UUID v5."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from salur_kit.relay import EVENT_ID_NAMESPACE, event_id

pytestmark = pytest.mark.unit


@given(originator=st.uuids(), version=st.integers(min_value=0, max_value=2**63 - 1))
def test_an_event_id_is_the_uuid5_of_the_aggregate_id_and_version(
    originator: uuid.UUID, version: int
) -> None:
    expected = str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{originator}:{version}"))

    assert event_id(originator, version) == expected
    assert event_id(str(originator), version) == expected
    assert uuid.UUID(expected).version == 5


def test_events_of_one_aggregate_get_different_ids_per_version() -> None:
    originator = uuid.uuid4()

    assert len({event_id(originator, version) for version in range(1, 1001)}) == 1000
