"""The HTTP edge every service shares: problem+json errors, body limits, idempotency,
optimistic-concurrency helpers, health probes and access logs."""

from salur_kit.http.app import create_api
from salur_kit.http.commands import (
    CommandModel,
    CommandRoute,
    application_of,
    command_router,
    expected_version,
    set_etag,
)
from salur_kit.http.health import ReadinessCheck
from salur_kit.http.idempotency import (
    IdempotencyScope,
    IdempotencyStore,
    InMemoryIdempotencyStore,
    PriorRequest,
    StoredResponse,
)
from salur_kit.http.postgres_idempotency import PostgresIdempotencyStore
from salur_kit.http.problems import PROBLEM_JSON, FieldError, problem

__all__ = [
    "PROBLEM_JSON",
    "CommandModel",
    "CommandRoute",
    "FieldError",
    "IdempotencyScope",
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "PostgresIdempotencyStore",
    "PriorRequest",
    "ReadinessCheck",
    "StoredResponse",
    "application_of",
    "command_router",
    "create_api",
    "expected_version",
    "problem",
    "set_etag",
]
