"""A service built exactly as in production (`build_api`), for tests on real servers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI

from salur_kit.runtime import ServiceSpec, build_api
from salur_kit.settings import DEV_ISSUER, ServiceSettings
from salur_kit.testing.databases import scratch_database


@contextlib.asynccontextmanager
async def running_api(
    spec: ServiceSpec, *, database_url: str, kafka_bootstrap_servers: str, jwks_path: Path
) -> AsyncIterator[FastAPI]:
    """The service's API with its lifespan running: relay, projections and consumers too."""
    settings = ServiceSettings(
        SALUR_SERVICE=spec.name,
        SALUR_ENV="development",
        DATABASE_URL=database_url,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap_servers,
        SALUR_JWKS_PATH=str(jwks_path),
        SALUR_JWT_ISSUER=DEV_ISSUER,
    )
    api = build_api(spec, settings)
    async with api.router.lifespan_context(api):
        yield api


@contextlib.asynccontextmanager
async def running_api_on_scratch_database(
    spec: ServiceSpec, *, postgres_admin_url: str, kafka_bootstrap_servers: str, jwks_path: Path
) -> AsyncIterator[FastAPI]:
    """`running_api` on a database of its own, dropped afterwards."""
    with scratch_database(postgres_admin_url, prefix=f"t_{spec.name}") as database_url:
        async with running_api(
            spec,
            database_url=database_url,
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            jwks_path=jwks_path,
        ) as api:
            yield api


@contextlib.asynccontextmanager
async def asgi_client(api: FastAPI, name: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in-process; server errors come back as 500s."""
    transport = httpx.ASGITransport(api, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as client:
        yield client
