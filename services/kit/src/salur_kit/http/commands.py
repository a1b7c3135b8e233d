"""What routes use: the command body base, the expected version, and the ETag helper."""

from __future__ import annotations

import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Header, Response
from pydantic import BaseModel, ConfigDict, Strict

from salur_kit.errors import SalurError

_SCALARS = (int, float, bool, str)
_IF_MATCH = re.compile(r'^(?:"(\d+)"|(\d+))$')


def _coercible_scalar(annotation: Any) -> bool:
    """int, float, bool or str, optionally `| None`: the fields lax mode would coerce."""
    if annotation in _SCALARS:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        return bool(members) and all(arg in _SCALARS for arg in members)
    return False


class CommandModel(BaseModel):
    """Base of request bodies: unknown fields are errors, strings are stripped, and
    numbers, booleans and strings are strict (`"5"` is not 5, `1` is not true).

    Strictness is per field rather than model-wide because FastAPI validates the decoded
    JSON as Python objects, where a model-wide strict mode would refuse a UUID, date, enum
    or decimal given as a string. Money must use salur_contracts' decimal-string type.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        changed = False
        for field in cls.model_fields.values():
            already = any(isinstance(item, Strict) for item in field.metadata)
            if not already and _coercible_scalar(field.annotation):
                field.metadata.append(Strict())
                changed = True
        if changed:
            cls.model_rebuild(force=True)


def expected_version(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='the version the change is based on, as an ETag: "3"',
            examples=['"3"'],
        ),
    ] = None,
) -> int | None:
    if if_match is None:
        return None
    matched = _IF_MATCH.match(if_match.strip())
    if matched is None:
        raise SalurError(
            f'If-Match must be a version like "3", not {if_match!r}',
            field="If-Match",
            rule="if-match-format",
        )
    return int(matched.group(1) or matched.group(2))


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'
