"""Trace context travels through stored events; logs are JSON carrying the trace id."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from eventsourcing.domain import Aggregate, event
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from salur_kit import telemetry
from salur_kit.eventstore import ServiceApplication

pytestmark = pytest.mark.unit


class Note(Aggregate):
    @event("Written")
    def __init__(self, id: uuid.UUID, text: str) -> None:
        self.text = text


@pytest.fixture(scope="module", autouse=True)
def sdk_tracing() -> None:
    telemetry.configure_tracing("test")
    assert isinstance(trace.get_tracer_provider(), TracerProvider)


def test_a_stored_event_keeps_the_traceparent_of_the_command_that_stored_it() -> None:
    app = ServiceApplication()
    note = Note(id=uuid.uuid4(), text="rembug warga")
    with telemetry.tracer.start_as_current_span("command") as span:
        app.save(note)
        expected = format(span.get_span_context().trace_id, "032x")
    [notification] = app.recorder.select_notifications(1, 10)
    domain_event, traceparent = app.mapper_with_trace.to_domain_event_with_trace(notification)
    assert traceparent is not None
    assert traceparent.split("-")[1] == expected
    assert domain_event.text == "rembug warga"
    assert app.repository.get(note.id).text == "rembug warga"


def test_an_event_stored_outside_any_trace_has_no_traceparent() -> None:
    app = ServiceApplication()
    app.save(Note(id=uuid.uuid4(), text="x"))
    [notification] = app.recorder.select_notifications(1, 10)
    assert app.mapper_with_trace.to_domain_event_with_trace(notification)[1] is None


def test_log_lines_are_json_with_the_trace_id() -> None:
    formatter = telemetry.JsonFormatter("registry")
    record = logging.LogRecord("salur", logging.INFO, __file__, 1, "BKM %s", ("verified",), None)
    record.fields = {"bkm_id": "b-1"}
    with telemetry.tracer.start_as_current_span("command") as span:
        line = json.loads(formatter.format(record))
        trace_id = format(span.get_span_context().trace_id, "032x")
    assert line["message"] == "BKM verified"
    assert line["service"] == "registry"
    assert line["trace_id"] == trace_id
    assert line["bkm_id"] == "b-1"
    assert line["level"] == "info"
