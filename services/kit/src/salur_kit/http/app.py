"""The one factory every service builds its HTTP API from."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, MutableMapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI

from salur_kit.auth.verifier import TokenVerifier
from salur_kit.http.access import AccessLogMiddleware
from salur_kit.http.health import ReadinessCheck, health_router
from salur_kit.http.idempotency import IdempotencyMiddleware, IdempotencyStore
from salur_kit.http.limits import BodyGuardMiddleware
from salur_kit.http.metrics import RequestMetricsMiddleware, metrics_router, request_histogram
from salur_kit.http.problems import (
    Problem,
    UnhandledErrorMiddleware,
    document_problems,
    install_exception_handlers,
)
from salur_kit.metrics import MetricsRegistry

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _is_probe(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in ("/healthz", "/readyz")


@contextlib.contextmanager
def startup_heap_frozen() -> Iterator[None]:
    """While the service serves, what its start-up built (modules, app, clients: some 100k
    objects) stays out of every garbage collection. Otherwise each full collection walks all
    of it again, a pause of about 100 ms in which no request is answered: the worst of a
    service's p99. Given back to the collector when the service stops."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def create_api(
    *,
    title: str,
    version: str,
    readiness_checks: Mapping[str, ReadinessCheck],
    idempotency_store: IdempotencyStore,
    token_verifier: TokenVerifier,
    max_body_bytes: int = 64 * 1024,
    readiness_timeout_seconds: float = 2.0,
    lifespan: Lifespan | None = None,
    metrics: MetricsRegistry | None = None,
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan_closing_store(api: FastAPI) -> AsyncIterator[None]:
        try:
            async with contextlib.AsyncExitStack() as started:
                if lifespan is not None:
                    await started.enter_async_context(lifespan(api))
                with startup_heap_frozen():
                    yield
        finally:
            await idempotency_store.close()

    api = FastAPI(
        title=title,
        version=version,
        lifespan=lifespan_closing_store,
        # One server span per request is the trace we need; per-dependency spans cost
        # more than they tell, and probes would only add noise.
        telemetry={"operation_spans": False, "exclude": _is_probe},
        responses={
            422: {"model": Problem, "description": "Validation failed"},
            "default": {"model": Problem, "description": "Error"},
        },
    )
    api.state.token_verifier = token_verifier
    install_exception_handlers(api)
    document_problems(api)
    api.include_router(health_router(readiness_checks, readiness_timeout_seconds))
    # The service adds its own figures (relay, consumers) to the same registry.
    api.state.metrics = metrics = metrics or MetricsRegistry()
    api.include_router(metrics_router(metrics))
    # Added innermost first. Outside in: access log, body guard (size and content type
    # before anything reads the body), idempotency, then the catch-all 500 so that the
    # idempotency layer sees a crash as a 5xx and releases the key.
    api.add_middleware(UnhandledErrorMiddleware)
    api.add_middleware(IdempotencyMiddleware, store=idempotency_store, verifier=token_verifier)
    api.add_middleware(BodyGuardMiddleware, max_body_bytes=max_body_bytes)
    api.add_middleware(AccessLogMiddleware)
    # Outermost, so the latency includes every layer's work.
    api.add_middleware(RequestMetricsMiddleware, histogram=request_histogram(metrics))
    return api
