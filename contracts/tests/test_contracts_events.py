"""The catalogue: every public event is documented, named from its class and registered."""

from __future__ import annotations

import re
from typing import ClassVar

import pytest
from pydantic import ValidationError
from salur_contracts import registry
from salur_contracts.base import (
    CATALOGUE,
    IntegrationEvent,
    UnknownEventTypeError,
    example_event,
    lookup,
)
from salur_contracts.schemas import public_events

pytestmark = pytest.mark.unit

EVENTS = public_events()
BKM_ID = "3f2b8c1e-6d4a-4c7b-9a51-2e8f0d6b7c90"


def test_the_catalogue_holds_every_registry_event() -> None:
    assert {event.event_type() for event in EVENTS} >= {
        f"salur.registry.{name}.v1"
        for name in [
            "BkmRegistered",
            "BkmUnitAdded",
            "BkmUnitRemoved",
            "BkmBankAccountChanged",
            "BkmBankAccountConfirmed",
            "BkmVerified",
            "BkmSuspended",
            "BkmReinstated",
            "PartnerRegistered",
            "PartnerVerified",
        ]
    }


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.__name__)
def test_every_field_has_a_description_and_examples(event: type[IntegrationEvent]) -> None:
    for name, field in event.model_fields.items():
        assert field.description, f"{event.__name__}.{name} has no description"
        assert field.examples, f"{event.__name__}.{name} has no examples"


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.__name__)
def test_every_event_is_documented_and_named_in_the_past_tense(
    event: type[IntegrationEvent],
) -> None:
    assert event.__doc__
    assert re.search(r"(ed|Withdrawn)$", event.__name__), event.__name__


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.__name__)
def test_every_bkm_event_carries_the_kelurahan_region_code(event: type[IntegrationEvent]) -> None:
    if event.subject_field == "bkm_id":
        assert "region_code" in event.model_fields


def test_derives_type_topic_and_subject_from_the_class() -> None:
    event = example_event(registry.BkmVerified)
    assert registry.BkmVerified.event_type() == "salur.registry.BkmVerified.v1"
    assert registry.BkmVerified.topic() == "salur.registry.events.v1"
    assert event.subject == BKM_ID


def test_looks_up_a_class_by_its_event_type() -> None:
    assert lookup("salur.registry.BkmRegistered.v1") is registry.BkmRegistered
    assert CATALOGUE["salur.registry.PartnerVerified.v1"] is registry.PartnerVerified


def test_refuses_an_unknown_event_type_with_a_clear_error() -> None:
    with pytest.raises(UnknownEventTypeError, match="not in the Salur event catalogue"):
        lookup("salur.registry.BkmExploded.v1")


def test_events_are_frozen() -> None:
    event = example_event(registry.BkmVerified)
    with pytest.raises(ValidationError, match="frozen"):
        event.verified_by = "someone else"  # type: ignore[misc]


def test_events_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        registry.PartnerVerified(partner_id=BKM_ID, verified_by="f", colour="blue")  # type: ignore[call-arg]


def test_a_partner_must_operate_somewhere() -> None:
    values = example_event(registry.PartnerRegistered).model_dump()
    with pytest.raises(ValidationError, match="at least 1 item"):
        registry.PartnerRegistered.model_validate({**values, "regions_of_operation": []})


def test_a_bank_account_number_is_five_to_twenty_digits() -> None:
    values = example_event(registry.BkmBankAccountChanged).model_dump()
    for bad in ["1234", "1" * 21, "12 345", "12-345"]:
        with pytest.raises(ValidationError, match="5 to 20 digits"):
            registry.BkmBankAccountChanged.model_validate({**values, "account_number": bad})


def test_a_second_version_keeps_the_name_and_raises_the_number() -> None:
    class BkmArchivedV2(IntegrationEvent):
        """Test-only event."""

        source_service: ClassVar[str] = "testing"
        version: ClassVar[int] = 2
        subject_field: ClassVar[str] = "bkm_id"
        bkm_id: str

    try:
        assert BkmArchivedV2.event_type() == "salur.testing.BkmArchived.v2"
        assert lookup("salur.testing.BkmArchived.v2") is BkmArchivedV2
        assert BkmArchivedV2 not in public_events()
    finally:
        del CATALOGUE["salur.testing.BkmArchived.v2"]


def test_refuses_a_subject_field_that_is_not_a_field() -> None:
    with pytest.raises(TypeError, match="is not a field"):

        class Broken(IntegrationEvent):
            source_service: ClassVar[str] = "testing"
            version: ClassVar[int] = 1
            subject_field: ClassVar[str] = "missing_id"
