"""Backward-compatibility check between two versions of one event's JSON Schema.

Backward-compatible means: every payload valid under the old schema is still valid under the
new one, so events already on Kafka (and in the audit ledger) stay readable forever. The
checker is deliberately conservative: a change it cannot prove harmless (an edited pattern,
a new format) counts as breaking. A breaking change needs a new `.v2` event class.

Adding an optional field is compatible both ways: `cloudevents.decode` ignores fields its
copy of the catalogue does not know, so older readers keep working.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


def breaking_changes(old_schema: Schema, new_schema: Schema) -> list[str]:
    """Every way `new_schema` may reject a payload `old_schema` accepted, as readable lines."""
    return _compare(old_schema, new_schema, "$", old_schema, new_schema)


def _resolve(schema: Schema, root: Schema) -> Schema:
    seen = 0
    while "$ref" in schema and str(schema["$ref"]).startswith("#/") and seen < 20:
        target: Any = root
        for part in str(schema["$ref"])[2:].split("/"):
            target = target[part]
        schema = target
        seen += 1
    return schema


def _types(schema: Schema) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    types = {kind} if isinstance(kind, str) else set(kind)
    if "number" in types:
        types.add("integer")
    return types


def _compare(old: Schema, new: Schema, at: str, old_root: Schema, new_root: Schema) -> list[str]:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    for branches in ("anyOf", "oneOf"):
        if branches in old or branches in new:
            return _compare_branches(old, new, branches, at, old_root, new_root)
    problems: list[str] = []
    old_types, new_types = _types(old), _types(new)
    if new_types is not None and (old_types is None or not old_types <= new_types):
        problems.append(f"{at}: changed type from {old.get('type')} to {new.get('type')}")
    problems += _compare_values(old, new, at)
    problems += _compare_object(old, new, at, old_root, new_root)
    if "items" in new:
        if "items" in old:
            problems += _compare(old["items"], new["items"], f"{at}[]", old_root, new_root)
        else:
            problems.append(f"{at}: added an items constraint")
    return problems


def _compare_values(old: Schema, new: Schema, at: str) -> list[str]:
    problems: list[str] = []
    if "enum" in new:
        removed = [v for v in old.get("enum", []) if v not in new["enum"]]
        if "enum" not in old:
            problems.append(f"{at}: added an enum restriction {new['enum']}")
        elif removed:
            problems.append(f"{at}: removed enum value(s) {removed}")
    if "const" in new and old.get("const", object()) != new["const"]:
        problems.append(f"{at}: changed or added const {new['const']!r}")
    for keyword in ("pattern", "format"):
        if keyword in new and old.get(keyword) != new[keyword]:
            problems.append(
                f"{at}: tightened {keyword} from {old.get(keyword)!r} to {new[keyword]!r}"
            )
    for keyword in _LOWER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
            problems.append(f"{at}: tightened {keyword} to {new[keyword]}")
    for keyword in _UPPER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            problems.append(f"{at}: tightened {keyword} to {new[keyword]}")
    return problems


def _compare_object(
    old: Schema, new: Schema, at: str, old_root: Schema, new_root: Schema
) -> list[str]:
    problems: list[str] = []
    old_properties: Schema = old.get("properties", {})
    new_properties: Schema = new.get("properties", {})
    for name, old_property in old_properties.items():
        if name not in new_properties:
            problems.append(f"{at}.{name}: removed property")
        else:
            problems += _compare(
                old_property, new_properties[name], f"{at}.{name}", old_root, new_root
            )
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        problems.append(f"{at}.{name}: newly required property")
    if new.get("additionalProperties") is False and old.get("additionalProperties") is not False:
        problems.append(f"{at}: now forbids additional properties")
    return problems


def _compare_branches(
    old: Schema, new: Schema, keyword: str, at: str, old_root: Schema, new_root: Schema
) -> list[str]:
    """Each old alternative must fit, unbroken, into at least one new alternative."""
    old_branches: list[Schema] = old.get(keyword) or [old]
    new_branches: list[Schema] = new.get(keyword) or [new]
    problems: list[str] = []
    for index, branch in enumerate(old_branches):
        attempts = [_compare(branch, n, at, old_root, new_root) for n in new_branches]
        if all(attempts):
            shortest = min(attempts, key=len)
            problems.append(f"{at}: alternative {index} no longer accepted ({'; '.join(shortest)})")
    return problems
