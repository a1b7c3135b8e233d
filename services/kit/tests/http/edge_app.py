"""A throwaway service built with `create_api`: one route per error, a counting command,
and probes whose health the test decides."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, FastAPI, Response
from pydantic import Field
from salur_kit.auth import Principal, TokenVerifier, current_principal, optional_principal
from salur_kit.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RuleViolationError,
    StaleVersionError,
    UnauthorizedError,
)
from salur_kit.http import (
    CommandModel,
    IdempotencyStore,
    create_api,
    expected_version,
    set_etag,
)

Caller = Annotated[Principal, Depends(current_principal)]
MAX_BODY = 1024
ERRORS = {
    "rule": RuleViolationError("amount exceeds the envelope", field="amount", rule="envelope"),
    "not-found": NotFoundError("no BKM 42"),
    "forbidden": ForbiddenError("not your BKM"),
    "unauthorized": UnauthorizedError("who are you"),
    "conflict": ConflictError("already registered"),
    "stale": StaleVersionError(2, 3),
}


class BankAccount(CommandModel):
    number: Annotated[str, Field(pattern=r"^\d{5,20}$")]
    holder: str


class RegisterThing(CommandModel):
    name: str
    households: int
    bank_account: BankAccount
    amount: Decimal | None = None


@dataclass
class Service:
    effects: int = 0
    crash_next: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    kafka_healthy: bool = True


def build_app(store: IdempotencyStore, verifier: TokenVerifier, service: Service) -> FastAPI:
    async def postgres() -> None:
        return None

    async def kafka() -> None:
        if not service.kafka_healthy:
            raise ConnectionError("broker unreachable")

    api = create_api(
        title="test",
        version="0",
        readiness_checks={"postgres": postgres, "kafka": kafka},
        idempotency_store=store,
        token_verifier=verifier,
        max_body_bytes=MAX_BODY,
    )

    @api.post("/errors/{kind}")
    async def fail(kind: str, caller: Caller) -> None:
        if kind == "crash":
            raise RuntimeError("secret internals")
        raise ERRORS[kind]

    @api.post("/things", status_code=201)
    async def register(
        command: RegisterThing, caller: Caller, response: Response
    ) -> dict[str, int]:
        if service.crash_next:
            service.crash_next = False
            raise RuntimeError("database went away")
        service.effects += 1
        set_etag(response, 1)
        response.headers["Location"] = f"/things/{service.effects}"
        return {"effects": service.effects}

    @api.post("/slow")
    async def slow(caller: Caller) -> dict[str, int]:
        await service.release.wait()
        service.effects += 1
        return {"effects": service.effects}

    @api.put("/things/{thing_id}")
    async def rename(
        thing_id: int,
        caller: Caller,
        response: Response,
        expected: Annotated[int | None, Depends(expected_version)],
    ) -> dict[str, int | None]:
        if expected is not None and expected != 3:
            raise StaleVersionError(expected, 3)
        set_etag(response, 4)
        return {"expected": expected}

    @api.get("/public")
    async def public(
        caller: Annotated[Principal | None, Depends(optional_principal)],
    ) -> dict[str, str | None]:
        return {"subject": caller.subject if caller else None}

    return api
