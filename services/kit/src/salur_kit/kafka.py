"""Kafka clients configured the one way Salur uses them.

How they authenticate comes from the environment (`KafkaSecurity`): nothing locally, SASL
SCRAM over TLS on Kubernetes, where each service has its own Kafka user and ACLs
(deploy/components/kafka).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from salur_kit.partitioner import partition_for

_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


class KafkaSecurity(BaseSettings):
    """The clients' security settings, read from KAFKA_* environment variables."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", validation_alias="KAFKA_SECURITY_PROTOCOL"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="SCRAM-SHA-512", validation_alias="KAFKA_SASL_MECHANISM"
    )
    sasl_username: str | None = Field(default=None, validation_alias="KAFKA_SASL_USERNAME")
    sasl_password: SecretStr | None = Field(default=None, validation_alias="KAFKA_SASL_PASSWORD")
    # The CA that signed the brokers' certificates (Strimzi: <cluster>-cluster-ca-cert).
    ssl_cafile: Path | None = Field(default=None, validation_alias="KAFKA_SSL_CAFILE")

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> KafkaSecurity:
        if self.uses_sasl and not (self.sasl_username and self.sasl_password):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.protocol} needs KAFKA_SASL_USERNAME and "
                "KAFKA_SASL_PASSWORD"
            )
        return self

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol.endswith("SSL")

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for an aiokafka client."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            cafile = str(self.ssl_cafile) if self.ssl_cafile else None
            options["ssl_context"] = create_ssl_context(cafile=cafile)
        if self.uses_sasl:
            assert self.sasl_password is not None  # checked by the validator
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password.get_secret_value(),
            }
        return options

    def broker_security(self) -> BaseSecurity | None:
        """The same settings in faststream's terms."""
        options = self.client_options()
        context, use_ssl = options.get("ssl_context"), self.uses_tls
        if self.uses_sasl:
            return _SASL[self.sasl_mechanism](
                username=options["sasl_plain_username"],
                password=options["sasl_plain_password"],
                ssl_context=context,
                use_ssl=use_ssl,
            )
        return BaseSecurity(ssl_context=context, use_ssl=use_ssl) if use_ssl else None


def new_producer(
    bootstrap_servers: str, *, client_id: str, security: KafkaSecurity | None = None
) -> AIOKafkaProducer:
    """A producer that never loses an acknowledged record and never duplicates on retry."""
    return AIOKafkaProducer(
        **(security or KafkaSecurity()).client_options(),
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=30_000,
        partitioner=partition_for,
    )


def new_broker(
    bootstrap_servers: str, *, client_id: str, security: KafkaSecurity | None = None
) -> KafkaBroker:
    """The faststream broker a service's consumers (and dead-letter publishing) run on."""
    return KafkaBroker(
        bootstrap_servers,
        security=(security or KafkaSecurity()).broker_security(),
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        # "Received" and "Processed" for every batch, in faststream's own (non-JSON) format,
        # only when debugging: at command rates they were most of a service's log and a
        # measurable part of its CPU. Failures are still logged as errors.
        log_level=logging.DEBUG,
    )


def new_consumer(
    *topics: str, bootstrap_servers: str, security: KafkaSecurity | None = None, **options: Any
) -> AIOKafkaConsumer:
    """A plain aiokafka consumer (tools, rebuilds, lag) that authenticates like the rest;
    `options` are aiokafka's own (group_id, auto_offset_reset, ...)."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        **(security or KafkaSecurity()).client_options(),
        **options,
    )
