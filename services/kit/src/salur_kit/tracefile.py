"""Spans as JSON lines in local files, for development machines without a collector.

Each service process appends its finished spans to `<dir>/<service>.jsonl`, one span per
line, written in one `write` per batch so that lines from concurrent writers never
interleave. A file past `max_bytes` is moved aside to `<service>.1.jsonl` (replacing the
previous one), so the traces of a long session stay bounded. `salur trace` reads them back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

DIR_VARIABLE = "SALUR_TRACES_DIR"
DEFAULT_DIR = Path(".data/traces")
MAX_BYTES = 64 * 1024 * 1024


def directory(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get(DIR_VARIABLE) or DEFAULT_DIR)


@dataclass(frozen=True)
class SpanRecord:
    """One span as written to, and read from, a trace file."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    service: str
    start_ns: int
    end_ns: int
    status: str
    attributes: Mapping[str, Any]

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    def to_json(self) -> str:
        return json.dumps(
            {
                "trace_id": self.trace_id,
                "span_id": self.span_id,
                "parent_span_id": self.parent_span_id,
                "name": self.name,
                "kind": self.kind,
                "service": self.service,
                "start_ns": self.start_ns,
                "end_ns": self.end_ns,
                "status": self.status,
                "attributes": dict(self.attributes),
            },
            separators=(",", ":"),
            default=str,
        )

    @classmethod
    def from_json(cls, line: str) -> SpanRecord:
        raw = json.loads(line)
        return cls(
            trace_id=str(raw["trace_id"]),
            span_id=str(raw["span_id"]),
            parent_span_id=raw.get("parent_span_id"),
            name=str(raw["name"]),
            kind=str(raw.get("kind", "")),
            service=str(raw.get("service", "")),
            start_ns=int(raw["start_ns"]),
            end_ns=int(raw["end_ns"]),
            status=str(raw.get("status", "")),
            attributes=dict(raw.get("attributes") or {}),
        )

    @classmethod
    def of(cls, span: ReadableSpan, default_service: str) -> SpanRecord:
        context = span.context
        assert context is not None, "a finished SDK span has a context"
        service = span.resource.attributes.get("service.name", default_service)
        return cls(
            trace_id=f"{context.trace_id:032x}",
            span_id=f"{context.span_id:016x}",
            parent_span_id=f"{span.parent.span_id:016x}" if span.parent is not None else None,
            name=span.name,
            kind=span.kind.name.lower(),
            service=str(service),
            start_ns=span.start_time or 0,
            end_ns=span.end_time or span.start_time or 0,
            status=span.status.status_code.name.lower(),
            attributes={k: _plain(v) for k, v in (span.attributes or {}).items()},
        )


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class FileSpanExporter(SpanExporter):
    def __init__(self, directory: Path, service: str, max_bytes: int = MAX_BYTES) -> None:
        self.directory = directory
        self.service = service
        self.max_bytes = max_bytes
        self.path = directory / f"{service}.jsonl"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        text = "".join(SpanRecord.of(span, self.service).to_json() + "\n" for span in spans)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._rotate_if_full()
            # O_APPEND and one write: concurrent processes' batches stay whole lines.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def _rotate_if_full(self) -> None:
        try:
            if self.path.stat().st_size >= self.max_bytes:
                os.replace(self.path, self.directory / f"{self.service}.1.jsonl")
        except FileNotFoundError:
            pass

    def shutdown(self) -> None:
        return None


def read_spans(directory: Path) -> Iterator[SpanRecord]:
    """Every span in the directory's trace files; lines that are not spans are skipped."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.jsonl")):
        with path.open(encoding="utf-8", errors="replace") as file:
            for line in file:
                try:
                    yield SpanRecord.from_json(line)
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a crash mid-write
