"""OpenTelemetry set-up, trace-context propagation and JSON logs with trace ids.

HTTP server spans come from FastAPI's own OpenTelemetry support (it continues a caller's
`traceparent`); this module adds the rest. Exporters are chosen by the standard variables:
`OTEL_EXPORTER_OTLP_ENDPOINT` sends spans over OTLP/HTTP, `OTEL_TRACES_EXPORTER=console`
prints them; with neither, a development process appends them to a local file (see
`tracefile`, read by `salur trace`) unless `OTEL_TRACES_EXPORTER=none`. Elsewhere spans are
still created (so trace ids flow through events and logs) but not exported.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from salur_kit import tracefile

_propagator = TraceContextTextMapPropagator()
tracer = trace.get_tracer("salur")


def configure(service_name: str) -> None:
    """Tracing and JSON logging for one service process."""
    configure_tracing(service_name)
    configure_logging(service_name)


def configure_tracing(service_name: str) -> None:
    """Install an SDK tracer provider unless one is installed already (tests add their own)."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    exporter = span_exporter(service_name)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def span_exporter(
    service_name: str, environ: Mapping[str, str] = os.environ
) -> SpanExporter | None:
    """Where finished spans go, by the standard OTEL_* variables and SALUR_ENV."""
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    chosen = environ.get("OTEL_TRACES_EXPORTER", "")
    if chosen == "console":
        return ConsoleSpanExporter()
    if chosen != "none" and environ.get("SALUR_ENV", "development") == "development":
        return tracefile.FileSpanExporter(tracefile.directory(environ), service_name)
    return None


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def traceparent_of(span: trace.Span) -> str | None:
    """The W3C header of a span, without going through a propagator (relay hot path)."""
    context = span.get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def context_from_traceparent(traceparent: str | None) -> otel_context.Context:
    if not traceparent:
        return otel_context.Context()
    return _propagator.extract({"traceparent": traceparent})


class JsonFormatter(logging.Formatter):
    """One JSON object per line, carrying the active trace and span ids."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self.service_name = service_name

    def format(self, record: logging.LogRecord) -> str:
        span = trace.get_current_span().get_span_context()
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service_name,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service_name: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
