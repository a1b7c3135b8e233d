"""`Idempotency-Key` for every unsafe request, implemented once as ASGI middleware.

A key is scoped by (caller, method, path) and bound to a fingerprint of the body. The first
request reserves the key, runs, and stores its answer; a retry with the same body gets that
answer replayed and causes no second effect. 5xx answers are not stored, so a retry runs again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salur_kit.auth.verifier import TokenVerifier
from salur_kit.errors import UnauthorizedError
from salur_kit.http.problems import FieldError, problem

log = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 255
KEY_LIFETIME_SECONDS = 24 * 3600
REPLAYED_HEADERS = frozenset({"content-type", "etag", "location"})
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class IdempotencyScope:
    subject: str
    method: str
    path: str
    key: str


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class PriorRequest:
    """What a key already holds: its body fingerprint and, once finished, its answer."""

    fingerprint: str
    response: StoredResponse | None


class IdempotencyStore(Protocol):
    async def reserve(self, scope: IdempotencyScope, fingerprint: str) -> PriorRequest | None:
        """Reserve the key: None if the caller now holds it, else what is already there."""

    async def complete(self, scope: IdempotencyScope, response: StoredResponse) -> None: ...

    async def release(self, scope: IdempotencyScope) -> None: ...

    async def close(self) -> None: ...


class InMemoryIdempotencyStore:
    """For tests and single-process tools; forgets everything on restart."""

    def __init__(self, lifetime_seconds: float = KEY_LIFETIME_SECONDS) -> None:
        self._lifetime = lifetime_seconds
        self._entries: dict[IdempotencyScope, tuple[float, PriorRequest]] = {}

    async def reserve(self, scope: IdempotencyScope, fingerprint: str) -> PriorRequest | None:
        now = time.monotonic()
        entry = self._entries.get(scope)
        if entry is not None and now - entry[0] < self._lifetime:
            return entry[1]
        self._entries[scope] = (now, PriorRequest(fingerprint, None))
        return None

    async def complete(self, scope: IdempotencyScope, response: StoredResponse) -> None:
        created, prior = self._entries[scope]
        self._entries[scope] = (created, PriorRequest(prior.fingerprint, response))

    async def release(self, scope: IdempotencyScope) -> None:
        self._entries.pop(scope, None)

    async def close(self) -> None:
        self._entries.clear()


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, store: IdempotencyStore, verifier: TokenVerifier) -> None:
        self.app = app
        self.store = store
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get("idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH:
            detail = f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters"
            error = FieldError("Idempotency-Key", "idempotency-key-format", detail)
            await problem(400, detail, errors=[error])(scope, receive, send)
            return
        subject = await self._subject(scope, headers)
        if subject is None:
            # An invalid token: the route refuses it with 401 and nothing runs or is stored.
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        fingerprint = hashlib.sha256(body).hexdigest()
        key_scope = IdempotencyScope(subject, scope["method"], scope["path"], key)
        try:
            prior = await self.store.reserve(key_scope, fingerprint)
        except Exception:
            # Without the store we cannot promise a single effect, so nothing runs.
            log.exception("idempotency store unavailable")
            detail = "cannot check the Idempotency-Key right now; retry later"
            await problem(503, detail, headers={"Retry-After": "5"})(scope, receive, send)
            return
        if prior is None:
            await self._run_once(key_scope, body, scope, receive, send)
        else:
            await _answer_retry(prior, fingerprint, scope, receive, send)

    async def _subject(self, scope: Scope, headers: Headers) -> str | None:
        authorization = headers.get("authorization")
        if authorization is None:
            return ANONYMOUS
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            principal = await self.verifier.verify(token.strip())
        except UnauthorizedError:
            return None
        # Saves the route's dependency a second verification (see optional_principal).
        scope.setdefault("state", {})["principal"] = principal
        return principal.subject

    async def _run_once(
        self, key_scope: IdempotencyScope, body: bytes, scope: Scope, receive: Receive, send: Send
    ) -> None:
        body_sent = False
        status: int | None = None
        response_headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def replay_receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers.extend(_kept_headers(message.get("headers", [])))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, recording_send)
        except BaseException:
            await self.store.release(key_scope)
            raise
        if status is None or status >= 500:
            await self.store.release(key_scope)
            return
        stored = StoredResponse(status, tuple(response_headers), b"".join(chunks))
        await self.store.complete(key_scope, stored)


def _kept_headers(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    kept = []
    for name, value in raw:
        lowered = name.decode("latin-1").lower()
        if lowered in REPLAYED_HEADERS:
            kept.append((lowered, value.decode("latin-1")))
    return kept


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _answer_retry(
    prior: PriorRequest, fingerprint: str, scope: Scope, receive: Receive, send: Send
) -> None:
    if prior.fingerprint != fingerprint:
        detail = "this Idempotency-Key was already used with a different request body"
        error = FieldError("Idempotency-Key", "idempotency-key-reuse", detail)
        await problem(422, detail, title="Idempotency key reused", errors=[error])(
            scope, receive, send
        )
        return
    if prior.response is None:
        detail = "a request with this Idempotency-Key is still in progress; retry later"
        error = FieldError("Idempotency-Key", "idempotency-key-in-progress", detail)
        response = problem(409, detail, errors=[error], headers={"Retry-After": "1"})
        await response(scope, receive, send)
        return
    stored = prior.response
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in stored.headers]
    headers.append((b"content-length", str(len(stored.body)).encode()))
    headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body, "more_body": False})
