from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import Depends
from salur_kit.auth import Principal, Role, TokenVerifier, current_principal, optional_principal
from salur_kit.devtokens import DEV_AUDIENCE, DevIssuer, ensure_issuer
from salur_kit.http import InMemoryIdempotencyStore, create_api
from salur_kit.settings import DEV_ISSUER

pytestmark = pytest.mark.unit


@pytest.fixture
def issuer(tmp_path: Path) -> DevIssuer:
    return ensure_issuer(tmp_path)


@pytest.fixture
async def client(issuer: DevIssuer) -> AsyncIterator[httpx.AsyncClient]:
    verifier = TokenVerifier(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, jwks_path=issuer.jwks_path)
    api = create_api(
        title="t",
        version="0",
        readiness_checks={},
        idempotency_store=InMemoryIdempotencyStore(),
        token_verifier=verifier,
    )

    @api.get("/me")
    async def me(caller: Annotated[Principal, Depends(current_principal)]) -> dict[str, str]:
        return {"subject": caller.subject, "role": caller.role}

    @api.get("/board")
    async def board(
        caller: Annotated[Principal | None, Depends(optional_principal)],
    ) -> dict[str, str | None]:
        return {"subject": caller.subject if caller else None}

    transport = httpx.ASGITransport(api)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_a_route_sees_the_principal_of_a_valid_token(
    client: httpx.AsyncClient, issuer: DevIssuer
) -> None:
    token = issuer.token(role=Role.auditor, subject="bpkp")
    response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"subject": "bpkp", "role": "auditor"}


async def test_a_route_without_a_token_is_denied_with_a_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("header", ["Bearer junk", "Basic dXNlcjpwYXNz", "Bearer "])
async def test_an_invalid_authorization_header_is_denied(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get("/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_a_public_route_serves_anonymous_callers(client: httpx.AsyncClient) -> None:
    response = await client.get("/board")
    assert response.json() == {"subject": None}


async def test_a_public_route_still_refuses_an_invalid_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/board", headers={"Authorization": "Bearer junk"})
    assert response.status_code == 401
