"""A registry service built exactly as in production, on real Postgres and Kafka."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from salur_kit.auth import Role
from salur_kit.devtokens import DevIssuer, ensure_issuer
from salur_kit.runtime import build_api
from salur_kit.settings import ServiceSettings
from salur_registry.bootstrap import SPEC


@pytest.fixture(scope="module")
def registry_database(postgres_admin_url: str) -> Iterator[str]:
    name = f"t_registry_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> DevIssuer:
    return ensure_issuer(Path(tmp_path_factory.mktemp("issuer")))


@pytest.fixture(scope="module")
async def registry(
    registry_database: str, kafka_bootstrap_servers: str, issuer: DevIssuer
) -> AsyncIterator[FastAPI]:
    settings = ServiceSettings(
        SALUR_SERVICE="registry",
        SALUR_ENV="development",
        DATABASE_URL=registry_database,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap_servers,
        SALUR_JWKS_PATH=str(issuer.jwks_path),
        SALUR_JWT_ISSUER="https://dev.salur.local/issuer",
    )
    api = build_api(SPEC, settings)
    async with api.router.lifespan_context(api):
        yield api


class Caller:
    """Tokens for each kind of caller, minted by the test's own issuer."""

    def __init__(self, issuer: DevIssuer) -> None:
        self.issuer = issuer

    def facilitator(self, region: str = "32.73") -> dict[str, str]:
        return self._bearer(Role.facilitator, region=region)

    def operator(self, bkm_id: uuid.UUID) -> dict[str, str]:
        return self._bearer(Role.bkm_operator, org=bkm_id)

    def officer(self, partner_id: uuid.UUID) -> dict[str, str]:
        return self._bearer(Role.partner_officer, org=partner_id)

    def auditor(self) -> dict[str, str]:
        return self._bearer(Role.auditor)

    def _bearer(
        self, role: Role, org: uuid.UUID | None = None, region: str | None = None
    ) -> dict[str, str]:
        token = self.issuer.token(role=role, subject=f"{role.value}-test", org=org, region=region)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def callers(issuer: DevIssuer) -> Caller:
    return Caller(issuer)


@pytest.fixture
async def http(registry: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(registry, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
        yield client
