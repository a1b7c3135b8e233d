"""A tiny YAML emitter for plain data, so contracts need no YAML library.

Every string is written as a JSON string, which YAML 1.2 reads as a double-quoted scalar; the
output is therefore unambiguous for any YAML parser, yet reads like hand-written YAML.
"""

from __future__ import annotations

import json
import re
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _key(name: str) -> str:
    return name if _PLAIN_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value == {} or value == []:
        return json.dumps(value)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _is_block(value: Any) -> bool:
    return isinstance(value, dict | list) and len(value) > 0


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for name, item in value.items():
            if _is_block(item):
                lines.append(f"{pad}{_key(name)}:")
                lines += _lines(item, indent + 2)
            else:
                lines.append(f"{pad}{_key(name)}: {_scalar(item)}")
    else:
        for item in value:
            if _is_block(item):
                nested = _lines(item, indent + 2)
                lines.append(f"{pad}- {nested[0].lstrip()}")
                lines += nested[1:]
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    return lines


def dump(document: dict[str, Any], header: str = "") -> str:
    """YAML text of a mapping of plain data, with an optional leading comment."""
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return comment + "\n".join(_lines(document, 0)) + "\n"
