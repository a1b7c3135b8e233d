"""A service built exactly as in production (`build_api`), for tests on real servers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from salur_kit.runtime import ServiceSpec, build_api
from salur_kit.settings import DEV_ISSUER, ServiceSettings


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
