"""Request latency per route, and the `/metrics` endpoint Prometheus scrapes."""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salur_kit.metrics import CONTENT_TYPE, Histogram, MetricsRegistry

# Probes and scrapes run every few seconds and say nothing about the service's work.
UNMEASURED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


def request_histogram(registry: MetricsRegistry) -> Histogram:
    return registry.histogram(
        "salur_http_request_duration_seconds",
        "Time from request to response, per route template, method and status.",
        ("method", "route", "status"),
    )


def route_template(scope: MutableMapping[str, Any]) -> str:
    """`/bkms/{bkm_id}` rather than each id, so the series stay few; `unmatched` for 404s."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNMEASURED_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.histogram.observe(
                time.perf_counter() - started,
                method=scope["method"],
                route=route_template(scope),
                status=str(status),
            )


def metrics_router(registry: MetricsRegistry) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        "/metrics",
        summary="Prometheus metrics (text format 0.0.4)",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE: {}}}},
    )
    async def metrics() -> Response:
        return Response(await registry.render(), media_type=CONTENT_TYPE)

    return router
