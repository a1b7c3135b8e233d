"""The AsyncAPI 3.0 document of the whole catalogue, generated from the event classes.

`python -m salur_contracts.asyncapi` rewrites `contracts/asyncapi.yaml`; a test fails when
the committed file and the code disagree. Payloads point at the committed JSON Schema files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from salur_contracts.base import IntegrationEvent, example_event
from salur_contracts.cloudevents import (
    CONTENT_TYPE,
    REQUIRED_HEADERS,
    SPEC_VERSION,
    encode,
    new_envelope,
)
from salur_contracts.schemas import public_events
from salur_contracts.yamltext import dump

ASYNCAPI_PATH = Path(__file__).resolve().parents[2] / "asyncapi.yaml"
_SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"
_EXAMPLE_TIME = dt.datetime(2026, 1, 15, 8, 30, tzinfo=dt.UTC)
_EXAMPLE_ID = "0b9c6a2e-4f1d-5e8a-9c3b-7d2e1f0a4b6c"
_EXAMPLE_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _header(description: str, **schema: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **schema}


CLOUDEVENTS_TRAIT: dict[str, Any] = {
    "summary": "CloudEvents 1.0, Kafka binary mode: attributes as ce_* headers, data as value.",
    "headers": {
        "type": "object",
        "required": [*REQUIRED_HEADERS, "content-type"],
        "properties": {
            "ce_specversion": _header("CloudEvents version.", const=SPEC_VERSION),
            "ce_id": _header("Event id; the same on every redelivery.", examples=[_EXAMPLE_ID]),
            "ce_source": _header("Producing service.", examples=["/salur/registry"]),
            "ce_type": _header(
                "Event type: salur.<service>.<Name>.v<N>.",
                examples=["salur.registry.BkmRegistered.v1"],
            ),
            "ce_subject": _header("Aggregate id; equals the Kafka key.", format="uuid"),
            "ce_time": _header("When the fact happened (RFC 3339).", format="date-time"),
            "ce_dataschema": _header("URI of the data's JSON Schema.", format="uri"),
            "ce_aggregateversion": _header(
                "Extension: the aggregate's version after this event (decimal integer).",
                pattern=r"^\d+$",
            ),
            "ce_traceparent": _header(
                "Extension: W3C trace context of the act that caused the event.",
                examples=[_EXAMPLE_TRACEPARENT],
            ),
            "content-type": _header("Media type of the value.", const=CONTENT_TYPE),
        },
    },
}


def _message(event: type[IntegrationEvent]) -> dict[str, Any]:
    data = example_event(event)
    envelope = new_envelope(
        data,
        aggregate_version=1,
        time=_EXAMPLE_TIME,
        id=_EXAMPLE_ID,
        traceparent=_EXAMPLE_TRACEPARENT,
    )
    headers = {name: value.decode() for name, value in encode(envelope).headers}
    doc = inspect.cleandoc(event.__doc__ or "")
    return {
        "name": event.event_type(),
        "title": event.__name__,
        "summary": doc.splitlines()[0] if doc else event.__name__,
        "description": doc,
        "contentType": CONTENT_TYPE,
        "traits": [{"$ref": "#/components/messageTraits/cloudEventsBinary"}],
        "payload": {
            "schemaFormat": _SCHEMA_FORMAT,
            "schema": {"$ref": f"schemas/{event.event_type()}.json"},
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "format": "uuid",
                    "description": f"The aggregate id ({event.subject_field}).",
                },
                "bindingVersion": "0.5.0",
            }
        },
        "examples": [
            {
                "name": f"{event.__name__}Example",
                "headers": headers,
                "payload": data.model_dump(mode="json"),
            }
        ],
    }


def _channel_id(topic: str) -> str:
    return topic.split(".")[1] + "Events"


def document() -> dict[str, Any]:
    """The AsyncAPI document as plain data."""
    events = public_events()
    topics = sorted({event.topic() for event in events})
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in topics:
        channel_id = _channel_id(topic)
        in_topic = [event for event in events if event.topic() == topic]
        channels[channel_id] = {
            "address": topic,
            "description": "Every event of one service, keyed by aggregate id for order.",
            "messages": {
                event.event_type(): {"$ref": f"#/components/messages/{event.event_type()}"}
                for event in in_topic
            },
            "bindings": {"kafka": {"topic": topic, "bindingVersion": "0.5.0"}},
        }
        operations[f"publish{channel_id[0].upper()}{channel_id[1:]}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [
                {"$ref": f"#/channels/{channel_id}/messages/{event.event_type()}"}
                for event in in_topic
            ],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Salur integration events",
            "version": _version(),
            "description": "Public events of Salur, carried as CloudEvents 1.0 in Kafka "
            "binary mode. A breaking change is a new event version, never an edit in place.",
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {event.event_type(): _message(event) for event in events},
            "messageTraits": {"cloudEventsBinary": CLOUDEVENTS_TRAIT},
        },
    }


def _version() -> str:
    try:
        return package_version("salur-contracts")
    except PackageNotFoundError:  # pragma: no cover - source checkout without install
        return "0.0.0"


def render() -> str:
    """The YAML text of the document."""
    return dump(
        document(), header="Generated by `python -m salur_contracts.asyncapi`; do not edit."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m salur_contracts.asyncapi")
    parser.add_argument("--output", type=Path, default=ASYNCAPI_PATH)
    arguments = parser.parse_args(argv)
    arguments.output.write_text(render(), encoding="utf-8")
    print(arguments.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
