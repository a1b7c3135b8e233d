"""How a published CRD schema (Kubernetes structural schema) is checked: the translation
to JSON Schema and the CEL subset in deploy_crd_schema, on small schemas made here."""

from __future__ import annotations

from typing import Any

import deploy_crd_schema
import pytest

pytestmark = pytest.mark.unit


def errors(spec_schema: dict[str, Any], spec: Any) -> list[str]:
    document = {
        "source": {"group": "example.org", "version": "v1", "kind": "Thing"},
        "openAPIV3Schema": {
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": spec_schema,
            },
        },
    }
    resource = {"apiVersion": "example.org/v1", "kind": "Thing", "metadata": {"name": "x"}}
    resource["spec"] = spec
    validator = deploy_crd_schema.validator(document)
    return [e.message for e in validator.iter_errors(resource)]


OBJECT = {"type": "object", "properties": {"size": {"type": "integer"}}}


def test_an_object_refuses_a_field_it_does_not_declare() -> None:
    assert errors(OBJECT, {"size": 1}) == []
    assert errors(OBJECT, {"size": 1, "sise": 2}) == [
        "Additional properties are not allowed ('sise' was unexpected)"
    ]


def test_an_object_that_preserves_unknown_fields_accepts_any_key() -> None:
    schema = {**OBJECT, "x-kubernetes-preserve-unknown-fields": True}
    assert errors(schema, {"size": 1, "anything": {"at": "all"}}) == []
    assert errors(schema, {"size": "1"})  # its declared fields keep their types


def test_a_map_checks_each_value_against_additional_properties() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "string"}}
    assert errors(schema, {"a": "1", "b": "2"}) == []
    assert errors(schema, {"a": 1})


def test_the_resource_must_be_of_the_schemas_group_version_and_kind() -> None:
    document = {
        "source": {"group": "example.org", "version": "v1", "kind": "Thing"},
        "openAPIV3Schema": {"type": "object", "properties": {"metadata": {"type": "object"}}},
    }
    validator = deploy_crd_schema.validator(document)
    right = {"apiVersion": "example.org/v1", "kind": "Thing", "metadata": {"name": "x"}}
    assert not list(validator.iter_errors(right))
    assert list(validator.iter_errors({**right, "apiVersion": "example.org/v2"}))
    assert list(validator.iter_errors({**right, "kind": "Other"}))


def test_properties_named_only_inside_one_of_do_not_extend_the_object() -> None:
    # Structural schemas: combinators only constrain values; the fields are those of the
    # object itself, so a branch neither allows an undeclared field nor refuses siblings.
    schema = {
        "type": "object",
        "properties": {"tls": {"type": "boolean"}, "port": {"type": "integer"}},
        "oneOf": [
            {"properties": {"tls": {}}, "required": ["tls"]},
            {"properties": {"port": {}}, "required": ["port"]},
        ],
    }
    assert errors(schema, {"tls": True}) == []
    assert errors(schema, {"tls": True, "port": 1})  # both branches match
    assert errors(schema, {"tls": True, "host": "x"})


def test_int_or_string_accepts_either_and_nothing_else() -> None:
    schema = {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    }
    assert errors(schema, 3) == []
    assert errors(schema, "50%") == []
    assert errors(schema, 1.5)
    assert errors({"x-kubernetes-int-or-string": True}, "3") == []
    assert errors({"x-kubernetes-int-or-string": True}, [3])


def test_nullable_accepts_null_as_well() -> None:
    assert errors({"type": "string", "nullable": True}, None) == []
    assert errors({"type": "string"}, None)


def test_a_list_of_type_map_refuses_two_entries_with_the_same_key() -> None:
    schema = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        "items": {"type": "object", "properties": {"name": {"type": "string"}}},
    }
    assert errors(schema, [{"name": "a"}, {"name": "b"}]) == []
    assert errors(schema, [{"name": "a"}, {"name": "a"}])
    set_schema = {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
    assert errors(set_schema, ["a", "b"]) == []
    assert errors(set_schema, ["a", "a"])


def rules(*expressions: str) -> dict[str, Any]:
    return {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "x-kubernetes-validations": [{"rule": e, "message": f"broke {e}"} for e in expressions],
    }


@pytest.mark.parametrize(
    ("rule", "holds", "fails"),
    [
        ("self.name != 'postgres'", {"name": "app"}, {"name": "postgres"}),
        (
            "!has(self.icu) || self.provider == 'icu'",
            {"provider": "libc"},
            {"icu": "x", "provider": "libc"},
        ),
        ("!(has(self.a) && has(self.b))", {"a": 1}, {"a": 1, "b": 2}),
        ("self.kind == 'A' || self.kind == 'B'", {"kind": "B"}, {"kind": "C"}),
        ("self.n > 0", {"n": 1}, {"n": 0}),
        (
            "self.mode!='x' || ((!has(self.pre) || self.pre.size()==0))",
            {"mode": "x", "pre": []},
            {"mode": "x", "pre": ["p"]},
        ),
    ],
)
def test_a_cel_rule_is_evaluated_on_the_value_it_is_attached_to(
    rule: str, holds: dict[str, Any], fails: dict[str, Any]
) -> None:
    assert errors(rules(rule), holds) == []
    assert errors(rules(rule), fails) == [f"broke {rule}"]


def test_a_cel_rule_reading_a_missing_field_fails_as_in_kubernetes() -> None:
    (message,) = errors(rules("self.provider == 'icu'"), {})
    assert "no such key: provider" in message


def test_a_transition_rule_does_not_apply_to_a_creation() -> None:
    assert errors(rules("self == oldSelf"), {"a": 1}) == []


def test_a_cel_rule_outside_the_supported_subset_is_reported_not_passed() -> None:
    (message,) = errors(rules("self.items.all(i, i > 0)"), {"items": [1]})
    assert "unsupported method all()" in message
