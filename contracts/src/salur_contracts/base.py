"""The integration-event base class and the catalogue of every public event type.

An event type name is derived from the class (`salur.<service>.<ClassName>.v<N>`), so the
name on the wire, the schema file and the Python class can never drift apart.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict


class UnknownEventTypeError(LookupError):
    """An event type this version of the catalogue does not know; consumers dead-letter it."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}: not in the Salur event catalogue")
        self.event_type = event_type


# Each event class's type name, worked out once (see `IntegrationEvent.event_type`).
_EVENT_TYPES: dict[type[IntegrationEvent], str] = {}


class IntegrationEvent(BaseModel):
    """A fact one service publishes for anyone to consume; frozen, closed, versioned.

    Subclasses set `source_service`, `version` and `subject_field` (the field holding the
    aggregate id, which becomes the Kafka key so one aggregate's events stay in order).
    A breaking change is a new class with `version = 2` named `<Name>V2`, never an edit.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_serialization_defaults_required=True
    )

    source_service: ClassVar[str]
    version: ClassVar[int]
    subject_field: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # Private bases (`_PlanningEvent`) share fields; only public classes are events.
        if cls.__name__.startswith("_"):
            return
        if all(hasattr(cls, name) for name in ("source_service", "version", "subject_field")):
            _register(cls)

    @classmethod
    def event_type(cls) -> str:
        """`salur.<service>.<Name>.v<N>`; a `V<N>` class-name suffix is not repeated."""
        # Asked for every event relayed and consumed; a class's answer never changes.
        known = _EVENT_TYPES.get(cls)
        if known is None:
            name = cls.__name__.removesuffix(f"V{cls.version}")
            known = _EVENT_TYPES[cls] = f"salur.{cls.source_service}.{name}.v{cls.version}"
        return known

    @classmethod
    def topic(cls) -> str:
        """The service's one event topic: every version of every event shares it, for order."""
        return f"salur.{cls.source_service}.events.v1"

    @property
    def subject(self) -> str:
        """The aggregate id as text: the CloudEvents subject and the Kafka key."""
        return str(getattr(self, self.subject_field))


CATALOGUE: dict[str, type[IntegrationEvent]] = {}
E = TypeVar("E", bound=IntegrationEvent)


def _register(cls: type[IntegrationEvent]) -> None:
    if cls.subject_field not in cls.model_fields:
        raise TypeError(f"{cls.__name__}.subject_field {cls.subject_field!r} is not a field")
    event_type = cls.event_type()
    existing = CATALOGUE.get(event_type)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise TypeError(f"{event_type} is already defined by {existing.__qualname__}")
    CATALOGUE[event_type] = cls


def lookup(event_type: str) -> type[IntegrationEvent]:
    """The class for a wire event type, or UnknownEventTypeError."""
    try:
        return CATALOGUE[event_type]
    except KeyError:
        raise UnknownEventTypeError(event_type) from None


def example_event(event: type[E]) -> E:
    """An instance built from the first example of every field (docs, AsyncAPI, tests)."""
    values = {
        name: field.examples[0] for name, field in event.model_fields.items() if field.examples
    }
    return event.model_validate(values)
