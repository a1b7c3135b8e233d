"""The demo's only way into the platform: the services' public HTTP APIs, as a named actor.

Bodies are plain dicts and answers plain JSON: the kit knows no service's models. Each
command carries its own `Idempotency-Key`, reused when a transport failure or a 5xx makes
the demo send it again, so a retry never acts twice.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from salur_kit.auth.principal import Role
from salur_kit.demo.waiting import Waiter
from salur_kit.devtokens import DevIssuer

SERVICES = ("registry", "planning", "opportunities", "matching", "partnerships", "audit")
DEFAULT_PORTS = dict(zip(SERVICES, range(8001, 8007), strict=True))
TRANSPORT_ATTEMPTS = 4
STALE_VERSION = "optimistic-concurrency"
Json = dict[str, Any]


class DemoError(Exception):
    """Something the story needed did not happen; the message says what, in a few words."""


class EndpointMissingError(DemoError):
    """A service does not (yet) serve a route the story uses."""


class RefusedError(DemoError):
    """A refusal: the service's problem+json, with the rule it names."""

    def __init__(self, status: int, rule: str | None, detail: str, request: str) -> None:
        super().__init__(detail)
        self.status, self.rule, self.detail, self.request = status, rule, detail, request

    def __str__(self) -> str:
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{self.request} answered {self.status}{rule}: {self.detail}"


def service_urls(
    environ: Mapping[str, str] = os.environ, services_file: Path | None = None
) -> dict[str, str]:
    """Base URLs: SALUR_<NAME>_URL, else the port infra/services.txt gives, else the default."""
    ports = dict(DEFAULT_PORTS)
    path = services_file or Path(environ.get("SALUR_SERVICES_FILE", "infra/services.txt"))
    if path.is_file():
        for line in path.read_text().splitlines():
            words = line.split()
            if len(words) >= 2 and not words[0].startswith("#") and words[1].isdigit():
                ports[words[0]] = int(words[1])
    return {
        name: environ.get(f"SALUR_{name.upper()}_URL", f"http://127.0.0.1:{ports[name]}").rstrip(
            "/"
        )
        for name in SERVICES
    }


@dataclass(frozen=True)
class Actor:
    """Someone in the story with their own token (minted as `salur dev token` does)."""

    name: str
    token: str

    @classmethod
    def minted(
        cls,
        issuer: DevIssuer,
        name: str,
        role: Role,
        *,
        org: UUID | None = None,
        region: str | None = None,
    ) -> Actor:
        subject = f"demo-{role.value}-{uuid.uuid4().hex[:8]}"
        token = issuer.token(role=role, subject=subject, org=org, region=region, ttl_seconds=7200)
        return cls(name, token)


@dataclass
class Api:
    urls: Mapping[str, str]
    waiter: Waiter
    traceparent: str | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=15.0))

    def close(self) -> None:
        self.client.close()

    def get(self, actor: Actor | None, service: str, path: str, **params: Any) -> Any:
        return self._send(actor, "GET", service, path, None, params, key=None)

    def command(
        self,
        actor: Actor,
        method: str,
        service: str,
        path: str,
        body: Json | None = None,
        *,
        until_known: Collection[str] = (),
    ) -> Json:
        """Send one command. A refusal whose rule is in `until_known` means the service has
        not yet heard (over Kafka) of something the command names; a stale-version conflict
        means the service's own consumer changed the aggregate meanwhile (the demo sends no
        If-Match). Either changed nothing, so the command is tried again, with a new key,
        until it passes or the wait times out."""
        transient = {*until_known, STALE_VERSION}

        def attempt() -> Json | None:
            try:
                result: Json = self._send(actor, method, service, path, body, {}, key=_key())
            except RefusedError as refused:
                if refused.rule in transient:
                    self.waiter.note(refused.detail)
                    return None
                raise
            return result

        return self.waiter.until(f"{service} to take {method} {path}", attempt)

    def refusal(
        self,
        actor: Actor,
        method: str,
        service: str,
        path: str,
        body: Json | None,
        *,
        rule: str,
        meanwhile: Collection[str] = (),
    ) -> RefusedError:
        """Send a command the story expects to be refused with `rule`; a refusal with a rule
        in `meanwhile` is the state before the service heard of the change, so try again."""

        def attempt() -> RefusedError | None:
            try:
                self._send(actor, method, service, path, body, {}, key=_key())
            except RefusedError as refused:
                if refused.rule == rule:
                    return refused
                if refused.rule in meanwhile:
                    self.waiter.note(refused.detail)
                    return None
                raise
            raise DemoError(f"{method} {path} was accepted; the story expected [{rule}]")

        return self.waiter.until(f"{service} to refuse {method} {path} with [{rule}]", attempt)

    def _send(
        self,
        actor: Actor | None,
        method: str,
        service: str,
        path: str,
        body: Json | None,
        params: Mapping[str, Any],
        *,
        key: str | None,
    ) -> Any:
        url = f"{self.urls[service]}{path}"
        headers = {"Accept": "application/json"}
        if actor is not None:
            headers["Authorization"] = f"Bearer {actor.token}"
        if key is not None:
            headers["Idempotency-Key"] = key
        if self.traceparent is not None:
            headers["traceparent"] = self.traceparent
        request = f"{service} {method} {path}"
        response = self._with_retries(
            request,
            lambda: self.client.request(method, url, json=body, params=params, headers=headers),
        )
        if response.status_code < 400:
            return response.json()
        raise _refusal(request, response)

    def _with_retries(self, request: str, send: Callable[[], httpx.Response]) -> httpx.Response:
        last: str = ""
        for attempt in range(TRANSPORT_ATTEMPTS):
            if attempt:
                self.waiter.pause(0.5 * 2**attempt)
            try:
                response = send()
            except httpx.TransportError as error:
                last = f"{type(error).__name__}: {error}"
                continue
            if response.status_code < 500:
                return response
            last = f"{response.status_code} {response.text[:200]}"
        raise DemoError(f"{request} failed {TRANSPORT_ATTEMPTS} times ({last}); is it running?")


def _key() -> str:
    return f"demo-{uuid.uuid4()}"


def _refusal(request: str, response: httpx.Response) -> DemoError:
    try:
        document = response.json()
    except ValueError:
        document = {}
    detail = str(document.get("detail", response.text[:200]))
    # The framework's own answer for a route the service does not have.
    if response.status_code in (404, 405) and detail in ("Not Found", "Method Not Allowed"):
        return EndpointMissingError(f"{request}: the service has no such endpoint (yet)")
    errors = document.get("errors") or [{}]
    return RefusedError(response.status_code, errors[0].get("rule"), detail, request)
