"""A validator that checks a custom resource as the Kubernetes API server would at creation.

deploy/schemas keeps the operators' published `openAPIV3Schema`s verbatim (fetch.py). They
are Kubernetes structural schemas, not plain JSON Schema, so they are translated first:

- an object that neither declares `additionalProperties` nor sets
  `x-kubernetes-preserve-unknown-fields` accepts only the properties it declares, as
  `kubectl apply` (strict field validation) does: a misspelt field is refused, not pruned;
- `x-kubernetes-int-or-string` accepts an integer or a string, `nullable` also null;
- `x-kubernetes-list-type` `set` and `map` refuse duplicates (by the map keys);
- `x-kubernetes-validations` (CEL rules) are evaluated for the small CEL subset these CRDs
  use; transition rules (those reading `oldSelf`) are skipped, as on creation. A rule
  outside the subset is reported as an error, never passed silently.

The schemas inside `allOf`/`anyOf`/`oneOf`/`not` only constrain values (structural schema
rule), so they are translated without the unknown-field refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema  # type: ignore[import-untyped]

Node = dict[str, Any]
_COMBINATORS = ("allOf", "anyOf", "oneOf")


def to_json_schema(document: Node) -> Node:
    """The JSON Schema of a deploy/schemas file (its `source` and `openAPIV3Schema`)."""
    source = document["source"]
    schema = _translate(document["openAPIV3Schema"], structural=True)
    properties = schema.setdefault("properties", {})
    # The API server checks apiVersion, kind and metadata itself; the CRD leaves them open.
    properties["apiVersion"] = {"const": f"{source['group']}/{source['version']}"}
    properties["kind"] = {"const": source["kind"]}
    properties["metadata"] = {"type": "object"}
    schema["required"] = sorted({*schema.get("required", ()), "apiVersion", "kind", "metadata"})
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def validator(document: Node) -> Any:
    schema = to_json_schema(document)
    _Validator.check_schema(schema)
    return _Validator(schema)


def _translate(node: Node, *, structural: bool) -> Node:
    out: Node = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _translate(v, structural=structural) for name, v in value.items()}
        elif key == "items" or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = _translate(value, structural=structural)
        elif key in _COMBINATORS:
            out[key] = [_translate(v, structural=False) for v in value]
        elif key == "not":
            out[key] = _translate(value, structural=False)
        elif key == "nullable":
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (
        structural
        and node.get("type") == "object"
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


# --- Kubernetes extensions as JSON Schema keywords -------------------------------------


def _list_type(validator: Any, list_type: str, instance: Any, schema: Node) -> Iterator[Any]:
    if not isinstance(instance, list):
        return
    if list_type == "set":
        keys = [repr(item) for item in instance]
    elif list_type == "map":
        names = schema.get("x-kubernetes-list-map-keys", [])
        keys = [repr([item.get(name) for name in names]) for item in instance]
    else:
        return
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        yield jsonschema.ValidationError(
            f"duplicate entries in a list-type {list_type}: {duplicates}"
        )


def _cel_rules(validator: Any, rules: list[Node], instance: Any, schema: Node) -> Iterator[Any]:
    for rule in rules:
        expression = rule["rule"]
        if re.search(r"\boldSelf\b", expression):
            continue  # a transition rule: it applies to updates, not to a creation
        try:
            holds = cel(expression)(instance)
        except CelError as error:
            yield jsonschema.ValidationError(f"rule {expression!r}: {error}")
            continue
        if holds is not True:
            yield jsonschema.ValidationError(rule.get("message") or f"failed rule {expression!r}")


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    {"x-kubernetes-list-type": _list_type, "x-kubernetes-validations": _cel_rules},
)


# --- the CEL subset --------------------------------------------------------------------


class CelError(Exception):
    """A rule outside the supported subset, or one that fails to evaluate (as in CEL)."""


# A compiled rule: ("lit", value) | ("self",) | ("select", node, field) | ("has", node, field)
# | ("size", node) | ("not", node) | ("and"/"or", node, node) | ("compare", op, node, node)
Ast = tuple[Any, ...]
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<number>\d+)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>&&|\|\||==|!=|<=|>=|[<>!().,]))"
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}


def cel(expression: str) -> Callable[[Any], Any]:
    """Compile a rule of the subset: self, field selection, has(), size(), string, integer
    and boolean literals, !, &&, ||, comparisons and parentheses."""
    parser = _Parser(_tokens(expression))
    tree = parser.disjunction()
    if parser.peek() is not None:
        raise CelError(f"unexpected {parser.peek()!r}")
    return lambda value: _evaluate(tree, value)


def _tokens(expression: str) -> list[str]:
    tokens, position, end = [], 0, len(expression.rstrip())
    while position < end:
        match = _TOKEN.match(expression, position)
        if not match or not match.lastgroup:
            raise CelError(f"cannot read {expression[position:]!r}")
        tokens.append(match.group(match.lastgroup))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent, loosest first: ||, &&, comparison, !, selection, literal."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.position = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise CelError(f"expected {expected or 'more'}, found {token!r}")
        self.position += 1
        return token

    def disjunction(self) -> Ast:
        tree = self.conjunction()
        while self.peek() == "||":
            self.take()
            tree = ("or", tree, self.conjunction())
        return tree

    def conjunction(self) -> Ast:
        tree = self.comparison()
        while self.peek() == "&&":
            self.take()
            tree = ("and", tree, self.comparison())
        return tree

    def comparison(self) -> Ast:
        tree = self.unary()
        if self.peek() in _COMPARE:
            operator = self.take()
            tree = ("compare", operator, tree, self.unary())
        return tree

    def unary(self) -> Ast:
        if self.peek() == "!":
            self.take()
            return ("not", self.unary())
        return self.selection()

    def selection(self) -> Ast:
        tree = self.primary()
        while self.peek() == ".":
            self.take()
            name = self.take()
            if self.peek() != "(":
                tree = ("select", tree, name)
                continue
            if name != "size":
                raise CelError(f"unsupported method {name}()")
            self.take("(")
            self.take(")")
            tree = ("size", tree)
        return tree

    def primary(self) -> Ast:
        token = self.take()
        if token == "(":
            tree = self.disjunction()
            self.take(")")
            return tree
        if token == "has":
            self.take("(")
            field = self.selection()
            self.take(")")
            if field[0] != "select":
                raise CelError("has() needs a field selection")
            return ("has", field[1], field[2])
        if token[0] in "'\"":
            return ("lit", token[1:-1].encode().decode("unicode_escape"))
        if token.isdigit():
            return ("lit", int(token))
        if token in ("true", "false"):
            return ("lit", token == "true")
        if token == "self":
            return ("self",)
        raise CelError(f"unsupported {token!r}")


def _evaluate(tree: Ast, self: Any) -> Any:
    match tree:
        case ("lit", value):
            return value
        case ("self",):
            return self
        case ("select", owner, field):
            found = _evaluate(owner, self)
            if not isinstance(found, dict) or field not in found:
                raise CelError(f"no such key: {field}")
            return found[field]
        case ("has", owner, field):
            found = _evaluate(owner, self)
            return isinstance(found, dict) and field in found
        case ("size", operand):
            return len(_evaluate(operand, self))
        case ("not", operand):
            return not _truth(_evaluate(operand, self))
        case ("and", left, right):
            return _truth(_evaluate(left, self)) and _truth(_evaluate(right, self))
        case ("or", left, right):
            return _truth(_evaluate(left, self)) or _truth(_evaluate(right, self))
        case ("compare", operator, left, right):
            return _COMPARE[operator](_evaluate(left, self), _evaluate(right, self))
    raise CelError(f"cannot evaluate {tree!r}")


def _truth(value: Any) -> bool:
    if not isinstance(value, bool):
        raise CelError(f"{value!r} is not a boolean")
    return value
