"""Spans to local JSON-lines files when no collector is configured, and `salur trace`."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace import SpanKind
from salur_kit import cli, telemetry, tracefile
from salur_kit.clitools.trace import render
from salur_kit.tracefile import FileSpanExporter, SpanRecord, read_spans

pytestmark = pytest.mark.unit


def provider_writing_to(directory: Path, service: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter(directory, service)))
    return provider


def test_without_a_collector_a_development_process_writes_spans_to_the_trace_directory(
    tmp_path: Path,
) -> None:
    exporter = telemetry.span_exporter(
        "planning", {"SALUR_ENV": "development", "SALUR_TRACES_DIR": str(tmp_path)}
    )
    assert isinstance(exporter, FileSpanExporter)
    assert exporter.path == tmp_path / "planning.jsonl"
    default = telemetry.span_exporter("planning", {})
    assert isinstance(default, FileSpanExporter)
    assert default.path == Path(".data/traces/planning.jsonl")


def test_a_collector_endpoint_wins_and_other_environments_write_no_files() -> None:
    otlp = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "SALUR_ENV": "development"}
    assert isinstance(telemetry.span_exporter("registry", otlp), OTLPSpanExporter)
    console = {"OTEL_TRACES_EXPORTER": "console"}
    assert isinstance(telemetry.span_exporter("registry", console), ConsoleSpanExporter)
    assert telemetry.span_exporter("registry", {"SALUR_ENV": "production"}) is None
    assert telemetry.span_exporter("registry", {"OTEL_TRACES_EXPORTER": "none"}) is None


def test_each_finished_span_is_one_json_line_with_its_parent_link(tmp_path: Path) -> None:
    tracer = provider_writing_to(tmp_path, "registry").get_tracer("t")
    with (
        tracer.start_as_current_span("POST /bkms", kind=SpanKind.SERVER) as server,
        tracer.start_as_current_span("store Bkm events", attributes={"n": 1}),
    ):
        pass
    lines = (tmp_path / "registry.jsonl").read_text().splitlines()
    assert len(lines) == 2
    child, parent = (SpanRecord.from_json(line) for line in lines)
    assert parent.name == "POST /bkms"
    assert parent.kind == "server"
    assert parent.parent_span_id is None
    assert child.parent_span_id == parent.span_id
    assert child.trace_id == parent.trace_id == f"{server.get_span_context().trace_id:032x}"
    assert child.service == "registry"
    assert child.attributes == {"n": 1}
    assert child.end_ns >= child.start_ns > 0


def test_a_full_file_is_moved_aside_and_both_are_read(tmp_path: Path) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "audit"}))
    provider.add_span_processor(
        SimpleSpanProcessor(FileSpanExporter(tmp_path, "audit", max_bytes=1))
    )
    tracer = provider.get_tracer("t")
    for name in ("first", "second", "third"):
        tracer.start_span(name).end()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.1.jsonl", "audit.jsonl"]
    assert [s.name for s in read_spans(tmp_path)] == ["second", "third"]


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    tracer = provider_writing_to(tmp_path, "matching").get_tracer("t")
    tracer.start_span("whole").end()
    with (tmp_path / "matching.jsonl").open("a") as file:
        file.write('{"trace_id": "ab", "span_')
    assert [s.name for s in read_spans(tmp_path)] == ["whole"]


def spans_of_two_services(directory: Path) -> str:
    """planning's command span, and matching's consumer span continuing it."""
    planning = provider_writing_to(directory, "planning").get_tracer("t")
    matching = provider_writing_to(directory, "matching").get_tracer("t")
    with (
        planning.start_as_current_span("POST /plans/{plan_id}/activities/{activity_id}/open"),
        planning.start_as_current_span("store Plan events"),
    ):
        publish = planning.start_span("publish salur.planning.ActivityChannellingOpened.v1")
        publish.end()
    with matching.start_as_current_span(
        "consume salur.planning.ActivityChannellingOpened.v1",
        context=telemetry.context_from_traceparent(telemetry.traceparent_of(publish)),
    ):
        matching.start_span("store Matchbook events").end()
    return f"{publish.get_span_context().trace_id:032x}"


def test_the_tree_nests_spans_under_their_parents_across_services(tmp_path: Path) -> None:
    trace_id = spans_of_two_services(tmp_path)
    lines = render(list(read_spans(tmp_path)))
    assert lines[0].startswith(f"trace {trace_id}  5 spans  2 services (matching, planning)")
    shape = [line.split("  [")[0] for line in lines[1:]]
    assert shape == [
        "POST /plans/{plan_id}/activities/{activity_id}/open",
        "└─ store Plan events",
        "   └─ publish salur.planning.ActivityChannellingOpened.v1",
        "      └─ consume salur.planning.ActivityChannellingOpened.v1",
        "         └─ store Matchbook events",
    ]
    assert "[matching]" in lines[4]
    assert lines[1].endswith("ms  +0.0 ms")


def test_a_span_whose_parent_was_not_recorded_is_a_marked_root(tmp_path: Path) -> None:
    trace_id = spans_of_two_services(tmp_path)
    spans = [s for s in read_spans(tmp_path) if s.service == "matching"]
    lines = render(spans)
    assert lines[0].startswith(f"trace {trace_id}  2 spans")
    consume = next(s for s in spans if s.name.startswith("consume"))
    assert lines[1].endswith(f"(parent {consume.parent_span_id} not recorded)")
    assert lines[2].startswith("└─ store Matchbook events")


def test_salur_trace_shows_a_trace_by_id_or_prefix_and_exits_1_when_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace_id = spans_of_two_services(tmp_path)
    assert cli.main(["trace", trace_id, "--dir", str(tmp_path)]) == 0
    assert "└─ store Matchbook events" in capsys.readouterr().out
    assert cli.main(["trace", trace_id[:8].upper(), "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith(f"trace {trace_id}")
    assert cli.main(["trace", "0" * 32, "--dir", str(tmp_path)]) == 1
    assert "no spans of trace" in capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:
        cli.main(["trace", "not-hex", "--dir", str(tmp_path)])
    assert usage.value.code == 2


def test_salur_trace_without_an_id_lists_recent_traces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["trace", "--dir", str(tmp_path)]) == 1
    trace_id = spans_of_two_services(tmp_path)
    capsys.readouterr()
    assert cli.main(["trace", "--dir", str(tmp_path)]) == 0
    [header, row] = capsys.readouterr().out.splitlines()
    assert header.startswith("TRACE ID")
    assert row.startswith(trace_id)
    assert row.endswith("POST /plans/{plan_id}/activities/{activity_id}/open [planning]")
    assert tracefile.DIR_VARIABLE == "SALUR_TRACES_DIR"
