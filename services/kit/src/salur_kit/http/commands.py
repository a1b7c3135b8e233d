"""What routes use: the command body base, the expected version, the ETag helper, the
application dependency and the route class that retries a command lost to a concurrent write."""

from __future__ import annotations

import re
import types
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from fastapi import APIRouter, Header, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, ConfigDict, Strict
from pydantic_core import PydanticCustomError

from salur_kit.errors import ConcurrentWriteError, SalurError

A = TypeVar("A")
# A lost race repeats only while another writer keeps winning; a few tries are plenty.
RACE_ATTEMPTS = 5
_SCALARS = (int, float, bool, str)
_IF_MATCH = re.compile(r'^(?:"(\d+)"|(\d+))$')


def _members(annotation: Any) -> list[Any]:
    """The types a field accepts, `| None` aside."""
    if get_origin(annotation) in (Union, types.UnionType):
        return [arg for arg in get_args(annotation) if arg is not type(None)]
    return [annotation]


def _coercible_scalar(annotation: Any) -> bool:
    """int, float, bool or str (optionally `| None`): the fields lax mode would coerce."""
    members = _members(annotation)
    return bool(members) and all(member in _SCALARS for member in members)


def _is_decimal(annotation: Any) -> bool:
    return _members(annotation) == [Decimal]


def _decimal_as_string(value: Any) -> Any:
    # A JSON number may already have lost precision in a float; amounts travel as strings.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise PydanticCustomError(
            "decimal_as_string", 'a decimal amount must be a string such as "1500000.00"'
        )
    return value


class CommandModel(BaseModel):
    """Base of request bodies: unknown fields are errors, strings are stripped, and
    numbers, booleans and strings are strict (`"5"` is not 5, `1` is not true), and a plain
    `Decimal` field takes only a decimal string, never a JSON number.

    Strictness is per field rather than model-wide because FastAPI validates the decoded
    JSON as Python objects, where a model-wide strict mode would refuse a UUID, date, enum
    or decimal given as a string. Money should use salur_contracts' money type.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        changed = False
        for field in cls.model_fields.values():
            # Inherited fields were adjusted already when the parent class was built.
            strict = any(isinstance(item, Strict) for item in field.metadata)
            as_string = any(
                getattr(item, "func", None) is _decimal_as_string for item in field.metadata
            )
            if not strict and _coercible_scalar(field.annotation):
                field.metadata.append(Strict())
                changed = True
            elif not as_string and _is_decimal(field.annotation):
                field.metadata.append(
                    BeforeValidator(_decimal_as_string, json_schema_input_type=str)
                )
                changed = True
        if changed:
            cls.model_rebuild(force=True)


async def expected_version(
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


def application_of(cls: type[A]) -> Callable[[Request], Awaitable[A]]:
    """The dependency giving a route the service's application (`api.state.application`).

    Async, so FastAPI calls it on the event loop rather than hopping to the thread pool.
    """

    async def application(request: Request) -> A:
        app = request.app.state.application
        if not isinstance(app, cls):
            raise RuntimeError(f"the app's application is not a {cls.__name__}")
        return app

    return application


class CommandRoute(APIRoute):
    """Routes of a service's commands: a command sent without If-Match that lost a race to
    another writer of the same aggregate (often the service's own consumer applying an
    event) is run again from a fresh load, up to RACE_ATTEMPTS times, instead of answering
    409 to a caller who never named a version. With If-Match the 409 stands: the caller
    based the change on a version and must see that it moved. Safe because a lost race
    saves nothing, and the whole request (dependencies, authorisation, rules) runs again.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def retrying(request: Request) -> Response:
            retries = 0 if "if-match" in request.headers else RACE_ATTEMPTS - 1
            for _ in range(retries):
                try:
                    return await handler(request)
                except ConcurrentWriteError:
                    continue
            return await handler(request)

        return retrying


def command_router(**options: Any) -> APIRouter:
    """A service's router, whose routes retry a command that lost a race (`CommandRoute`)."""
    return APIRouter(route_class=CommandRoute, **options)
