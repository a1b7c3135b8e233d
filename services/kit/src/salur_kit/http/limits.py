"""Refuses oversized and non-JSON bodies before anything parses them."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salur_kit.http.problems import problem

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class PayloadTooLargeError(HTTPException):
    # An HTTPException so that FastAPI's body reader re-raises it instead of turning it
    # into a generic 400.
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class BodyGuardMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        length = 0
        if declared is not None:
            if not declared.isdigit():
                await problem(400, "Content-Length is not a number")(scope, receive, send)
                return
            length = int(declared)
            if length > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        has_body = length > 0 or chunked
        if (
            has_body
            and scope["method"] in BODY_METHODS
            and not _is_json(headers.get("content-type"))
        ):
            detail = "send the body as application/json"
            await problem(415, detail)(scope, receive, send)
            return
        await self._limited(scope, receive, send)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Content-Length can be absent (chunked) or wrong; count what actually arrives.
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise PayloadTooLargeError(self.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLargeError:
            if started:
                raise
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the request body is larger than {self.max_body_bytes} bytes"
        await problem(413, detail)(scope, receive, send)
