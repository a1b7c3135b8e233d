"""One typed settings base for every service, read from the environment.

Outside development the validator refuses the well-known local defaults, so a deployment
cannot start with the dev database password or trust the dev token issuer by accident.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PostgresDsn, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_DATABASE_PASSWORD = "salur"
DEV_ISSUER = "https://dev.salur.local/issuer"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    service: str = Field(validation_alias="SALUR_SERVICE", description="service name")
    environment: Literal["development", "test", "production"] = Field(
        default="development", validation_alias="SALUR_ENV"
    )
    database_url: PostgresDsn = Field(validation_alias="DATABASE_URL")
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    http_host: str = Field(default="127.0.0.1", validation_alias="HTTP_HOST")
    http_port: int = Field(default=8000, validation_alias="HTTP_PORT")
    jwks_path: Path | None = Field(default=None, validation_alias="SALUR_JWKS_PATH")
    jwks_url: str | None = Field(default=None, validation_alias="SALUR_JWKS_URL")
    jwt_issuer: str = Field(default=DEV_ISSUER, validation_alias="SALUR_JWT_ISSUER")
    jwt_audience: str = Field(default="salur", validation_alias="SALUR_JWT_AUDIENCE")
    max_body_bytes: int = Field(default=64 * 1024, validation_alias="SALUR_MAX_BODY_BYTES")
    consumer_group_prefix: str = Field(default="", validation_alias="SALUR_CONSUMER_GROUP_PREFIX")

    @model_validator(mode="after")
    def _refuse_dev_defaults_outside_development(self) -> ServiceSettings:
        if self.environment == "development":
            return self
        if self.database_url.hosts()[0].get("password") == DEV_DATABASE_PASSWORD:
            raise ValueError("DATABASE_URL uses the development password outside development")
        if self.jwt_issuer == DEV_ISSUER:
            raise ValueError("SALUR_JWT_ISSUER is the development issuer outside development")
        if self.jwks_path is None and self.jwks_url is None:
            raise ValueError("set SALUR_JWKS_URL or SALUR_JWKS_PATH outside development")
        return self
