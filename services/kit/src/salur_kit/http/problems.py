"""RFC 9457 problem documents: the one shape every error leaves a service in."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salur_kit.errors import SalurError, UnauthorizedError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class FieldErrorDocument(BaseModel):
    field: str = Field(description="dotted path of the input, e.g. body.bank_account.number")
    rule: str = Field(description="the rule broken, e.g. missing, extra_forbidden")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem document; documents the error responses in OpenAPI."""

    type: str = Field(examples=["urn:salur:problem:validation-failed"])
    title: str
    status: int
    detail: str
    errors: list[FieldErrorDocument]


@dataclass(frozen=True)
class FieldError:
    field: str
    rule: str
    message: str


def _slug(text: str) -> str:
    return "-".join(text.lower().split())


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: Iterable[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    title = title or HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": f"urn:salur:problem:{_slug(title)}",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": [
            {"field": error.field, "rule": error.rule, "message": error.message} for error in errors
        ],
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


async def _salur_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SalurError)
    errors = []
    if exc.field is not None or exc.rule is not None:
        errors.append(FieldError(exc.field or "", exc.rule or _slug(exc.title), exc.detail))
    headers = None
    if isinstance(exc, UnauthorizedError):
        # RFC 6750: tell the client how to authenticate, and whether its token was the problem.
        challenge = 'Bearer error="invalid_token"' if exc.rule == "invalid-token" else "Bearer"
        headers = {"WWW-Authenticate": challenge}
    return problem(exc.status, exc.detail, title=exc.title, errors=errors, headers=headers)


def _dotted(location: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in location)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    issues = exc.errors()
    for issue in issues:
        if issue["type"] == "json_invalid":
            position = issue["loc"][-1]
            reason = issue.get("ctx", {}).get("error", "invalid JSON")
            return problem(
                400,
                f"malformed JSON at position {position}: {reason}",
                title="Malformed JSON",
                errors=[FieldError("body", "json_invalid", reason)],
            )
    errors = [FieldError(_dotted(i["loc"]), i["type"], i["msg"]) for i in issues]
    fields = ", ".join(f"{error.field} ({error.rule})" for error in errors)
    return problem(
        422, f"the request is invalid: {fields}", title="Validation failed", errors=errors
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, str(exc.detail), headers=exc.headers)


def document_problems(app: FastAPI) -> None:
    """Declare error responses as problem+json in OpenAPI (FastAPI would say application/json
    and describe its own validation error shape, which this edge never sends)."""
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = default_openapi()
        problem_ref = {"$ref": "#/components/schemas/Problem"}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    if status.startswith(("4", "5", "default")):
                        response["content"] = {PROBLEM_JSON: {"schema": problem_ref}}
        for unused in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SalurError, _salur_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)


class UnhandledErrorMiddleware:
    """Turns an unexpected exception into a 500 problem that reveals nothing internal.

    It sits inside the idempotency middleware so that a crash is seen as a 5xx there and
    the key's reservation is released for a retry.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error", extra={"fields": {"path": scope["path"]}})
            if started:
                raise
            response = problem(500, "the server failed to handle this request")
            await response(scope, receive, send)
