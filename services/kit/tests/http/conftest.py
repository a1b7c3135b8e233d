"""Fixtures: a dev issuer, a verifier trusting it, and a client of the throwaway app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from edge_app import Service, build_app
from salur_kit.auth import Role, TokenVerifier
from salur_kit.devtokens import DEV_AUDIENCE, DevIssuer, ensure_issuer
from salur_kit.http import IdempotencyStore, InMemoryIdempotencyStore
from salur_kit.settings import DEV_ISSUER


@pytest.fixture(scope="session")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> DevIssuer:
    return ensure_issuer(Path(tmp_path_factory.mktemp("issuer")))


@pytest.fixture(scope="session")
def verifier(issuer: DevIssuer) -> TokenVerifier:
    return TokenVerifier(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, jwks_path=issuer.jwks_path)


@pytest.fixture
def service() -> Service:
    return Service()


@pytest.fixture
def store() -> IdempotencyStore:
    return InMemoryIdempotencyStore()


@pytest.fixture
async def client(
    store: IdempotencyStore, verifier: TokenVerifier, service: Service, issuer: DevIssuer
) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(store, verifier, service)
    token = issuer.token(role=Role.auditor, subject="alice")
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://test",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http
