"""The audit service's settings: the kit's base plus the ledger's writer role and key."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, model_validator
from salur_kit.settings import DEV_DATABASE_PASSWORD, ServiceSettings

SOURCE_TOPICS = (
    "salur.registry.events.v1",
    "salur.planning.events.v1",
    "salur.opportunities.events.v1",
    "salur.matching.events.v1",
    "salur.partnerships.events.v1",
)
CHECKPOINT_TOPIC = "salur.audit.checkpoints.v1"
CONSUMER_GROUP = "audit"
WRITER_ROLE = "salur_audit_writer"
DEV_KEY_PATH = Path(".data/audit/signing-key.pem")


def as_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    password = parts.password or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


class AuditSettings(ServiceSettings):
    service: str = Field(default="audit", validation_alias="SALUR_SERVICE")
    http_port: int = Field(default=8006, validation_alias="HTTP_PORT")
    writer_database_url: str | None = Field(
        default=None,
        validation_alias="SALUR_AUDIT_WRITER_DATABASE_URL",
        description="The insert-and-select role the ledger is appended with; in development, "
        "DATABASE_URL as salur_audit_writer.",
    )
    signing_key_path: Path | None = Field(
        default=None,
        validation_alias="SALUR_AUDIT_SIGNING_KEY",
        description="PEM Ed25519 private key; generated at .data/audit in development only.",
    )
    source_topics: tuple[str, ...] = Field(
        default=SOURCE_TOPICS, validation_alias="SALUR_AUDIT_SOURCE_TOPICS"
    )
    checkpoint_topic: str = Field(
        default=CHECKPOINT_TOPIC, validation_alias="SALUR_AUDIT_CHECKPOINT_TOPIC"
    )
    seal_interval_seconds: float = Field(default=1.0, validation_alias="SALUR_AUDIT_SEAL_SECONDS")
    checkpoint_interval_seconds: float = Field(
        default=300.0, validation_alias="SALUR_AUDIT_CHECKPOINT_SECONDS"
    )
    max_batch: int = Field(default=5000, ge=1, validation_alias="SALUR_AUDIT_MAX_BATCH")

    @model_validator(mode="after")
    def _refuse_default_ledger_secrets_outside_development(self) -> AuditSettings:
        if self.environment == "development":
            return self
        if self.signing_key_path is None:
            raise ValueError("set SALUR_AUDIT_SIGNING_KEY outside development")
        if self.writer_database_url is None:
            raise ValueError("set SALUR_AUDIT_WRITER_DATABASE_URL outside development")
        if urlsplit(self.writer_database_url).password == DEV_DATABASE_PASSWORD:
            raise ValueError("the ledger writer uses the development password outside development")
        return self

    @property
    def owner_url(self) -> str:
        return str(self.database_url)

    @property
    def writer_url(self) -> str:
        return self.writer_database_url or as_user(self.owner_url, WRITER_ROLE)

    @property
    def writer_role(self) -> str:
        return urlsplit(self.writer_url).username or WRITER_ROLE

    @property
    def key_path(self) -> Path:
        return self.signing_key_path or DEV_KEY_PATH
