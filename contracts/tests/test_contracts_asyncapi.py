"""The committed AsyncAPI document is the one the code generates, and it is valid YAML."""

from __future__ import annotations

import pytest
from salur_contracts.asyncapi import ASYNCAPI_PATH, document, render
from salur_contracts.schemas import SCHEMA_DIR, public_events
from salur_contracts.yamltext import dump

pytestmark = pytest.mark.unit


def test_committed_asyncapi_equals_the_generated_document() -> None:
    assert ASYNCAPI_PATH.read_text(encoding="utf-8") == render(), (
        "contracts/asyncapi.yaml is out of date: run `uv run python -m salur_contracts.asyncapi`"
    )


def test_has_one_channel_per_topic_and_one_message_per_event_type() -> None:
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    assert {c["address"] for c in doc["channels"].values()} == {e.topic() for e in public_events()}
    assert set(doc["components"]["messages"]) == {e.event_type() for e in public_events()}


def test_every_payload_points_at_a_committed_schema_file() -> None:
    for message in document()["components"]["messages"].values():
        reference = message["payload"]["schema"]["$ref"]
        assert (SCHEMA_DIR.parent / reference).is_file(), reference


def test_the_yaml_reads_back_as_the_same_document() -> None:
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(render()) == document()


def test_the_emitter_quotes_every_string_and_keeps_nesting() -> None:
    assert dump({"a": [{"b": "c: d"}, 1, True, None], "$ref": {}}) == (
        'a:\n  - b: "c: d"\n  - 1\n  - true\n  - null\n"$ref": {}\n'
    )
