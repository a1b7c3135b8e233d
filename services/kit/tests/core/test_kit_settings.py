"""Service settings refuse development defaults outside development."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError
from salur_kit.settings import ServiceSettings

pytestmark = pytest.mark.unit

DEV_DB = "postgresql://salur:salur@127.0.0.1:55432/salur_registry"
PROD_DB = "postgresql://registry:s3cr3t-from-vault@db.internal:5432/salur_registry"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes counts (`make test` exports local defaults)."""
    for name in list(os.environ):
        if name.startswith(("SALUR_", "HTTP_")) or name in (
            "DATABASE_URL",
            "KAFKA_BOOTSTRAP_SERVERS",
        ):
            monkeypatch.delenv(name)


def settings(**values: str) -> ServiceSettings:
    return ServiceSettings(**{"SALUR_SERVICE": "registry", **values})  # type: ignore[arg-type]


def test_development_accepts_the_local_defaults() -> None:
    loaded = settings(DATABASE_URL=DEV_DB)
    assert loaded.environment == "development"
    assert str(loaded.database_url) == DEV_DB


def test_production_refuses_the_development_database_password() -> None:
    with pytest.raises(ValidationError, match="development password"):
        settings(
            SALUR_ENV="production",
            DATABASE_URL=DEV_DB,
            SALUR_JWT_ISSUER="https://login.salur.id/",
            SALUR_JWKS_URL="https://login.salur.id/jwks",
        )


def test_production_refuses_the_development_token_issuer() -> None:
    with pytest.raises(ValidationError, match="development issuer"):
        settings(SALUR_ENV="production", DATABASE_URL=PROD_DB, SALUR_JWKS_URL="https://x/jwks")


def test_production_needs_a_jwks() -> None:
    with pytest.raises(ValidationError, match="SALUR_JWKS_URL"):
        settings(
            SALUR_ENV="production", DATABASE_URL=PROD_DB, SALUR_JWT_ISSUER="https://login.salur.id/"
        )


def test_production_with_real_secrets_loads() -> None:
    loaded = settings(
        SALUR_ENV="production",
        DATABASE_URL=PROD_DB,
        SALUR_JWT_ISSUER="https://login.salur.id/",
        SALUR_JWKS_URL="https://login.salur.id/jwks",
    )
    assert loaded.jwks_url == "https://login.salur.id/jwks"


def test_refuses_a_database_url_that_is_not_postgres() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        settings(DATABASE_URL="mysql://root@localhost/salur")


def test_consumer_groups_are_unprefixed_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings(DATABASE_URL=DEV_DB).consumer_group_prefix == ""
    monkeypatch.setenv("SALUR_CONSUMER_GROUP_PREFIX", "e2e-42-")
    assert settings(DATABASE_URL=DEV_DB).consumer_group_prefix == "e2e-42-"
