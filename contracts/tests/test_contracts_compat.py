"""The compatibility checker itself: which schema edits break old payloads and which do not."""

from __future__ import annotations

from typing import Any

import pytest
from salur_contracts.compat import breaking_changes

pytestmark = pytest.mark.unit

BASE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "bkm_id": {"type": "string", "format": "uuid"},
        "unit": {"type": "string", "enum": ["UPK", "UPL", "UPS"]},
        "amount": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$"},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "regions": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["bkm_id", "unit", "amount", "name", "regions"],
}


def _edit(path: list[str], value: Any) -> dict[str, Any]:
    """A deep copy of BASE with one key set (or removed, for the sentinel `...`)."""
    import copy

    schema = copy.deepcopy(BASE)
    target = schema
    for part in path[:-1]:
        target = target[part]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return schema


@pytest.mark.parametrize(
    ("new", "flagged"),
    [
        (_edit(["properties", "unit"], ...), "unit: removed property"),
        (_edit(["properties", "name", "type"], "integer"), "name: changed type"),
        (_edit(["required"], [*BASE["required"], "note"]), "note: newly required"),
        (_edit(["properties", "unit", "enum"], ["UPK", "UPL"]), "removed enum value"),
        (_edit(["properties", "amount", "pattern"], r"^[0-9]+\.[0-9]{2}$"), "tightened pattern"),
        (_edit(["properties", "name", "format"], "email"), "tightened format"),
        (_edit(["properties", "bkm_id", "format"], "uri"), "tightened format"),
        (_edit(["properties", "name", "maxLength"], 100), "tightened maxLength"),
        (_edit(["properties", "name", "minLength"], 3), "tightened minLength"),
        (_edit(["properties", "regions", "minItems"], 2), "tightened minItems"),
        (_edit(["properties", "regions", "items"], {"type": "integer"}), "regions[]: changed type"),
        (_edit(["properties", "note", "anyOf"], [{"type": "string"}]), "alternative 1"),
        (_edit(["properties", "unit", "const"], "UPK"), "const"),
    ],
)
def test_flags_an_edit_that_would_reject_old_payloads(new: dict[str, Any], flagged: str) -> None:
    problems = breaking_changes(BASE, new)
    assert any(flagged in problem for problem in problems), problems


@pytest.mark.parametrize(
    "new",
    [
        BASE,
        _edit(["properties", "extra"], {"type": "string"}),
        _edit(["properties", "unit", "enum"], ["UPK", "UPL", "UPS", "UPX"]),
        _edit(["properties", "name", "maxLength"], 500),
        _edit(["properties", "name", "minLength"], ...),
        _edit(["properties", "amount", "pattern"], ...),
        _edit(["required"], ["bkm_id", "unit", "amount"]),
        _edit(["properties", "name", "description"], "A new description."),
        _edit(["properties", "name", "examples"], ["Another"]),
        _edit(["properties", "name", "type"], ["string", "null"]),
        _edit(["properties", "note", "anyOf"], [{"type": "string"}, {"type": "null"}, {}]),
    ],
)
def test_passes_an_edit_that_accepts_every_old_payload(new: dict[str, Any]) -> None:
    assert breaking_changes(BASE, new) == []


def test_follows_local_references() -> None:
    old = {"$defs": {"U": {"enum": ["A", "B"]}}, "properties": {"u": {"$ref": "#/$defs/U"}}}
    new = {"$defs": {"U": {"enum": ["A"]}}, "properties": {"u": {"$ref": "#/$defs/U"}}}
    assert breaking_changes(old, new) == ["$.u: removed enum value(s) ['B']"]


def test_flags_newly_forbidden_additional_properties() -> None:
    old = {"type": "object", "properties": {}}
    new = {"type": "object", "properties": {}, "additionalProperties": False}
    assert breaking_changes(old, new) == ["$: now forbids additional properties"]
