"""A command's trace, written to the local trace files by a service on real Postgres and
Kafka, is rendered by `salur trace` as one tree from the HTTP request to the publish."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from salur_kit import cli, telemetry
from salur_kit.devtokens import DevIssuer
from salur_kit.testing.callers import Callers
from salur_kit.testing.services import asgi_client, running_api
from salur_kit.tracefile import FileSpanExporter, read_spans
from salur_registry.bootstrap import SPEC

pytestmark = pytest.mark.integration

BKM = {
    "name": "BKM Jejak",
    "region_code": "32.73.01.1001",
    "address": "Jl. Dago 3",
    "legal_deed_number": "AHU-78",
    "founded_on": "2010-01-01",
}


def depth(line: str) -> int:
    """Tree depth of a rendered line: each level indents by three characters."""
    name_at = next(i for i, char in enumerate(line) if char.isalpha() or char == "/")
    return name_at // 3


async def test_salur_trace_renders_a_command_from_request_to_publish(
    fresh_database_url: str,
    kafka_bootstrap_servers: str,
    dev_issuer: DevIssuer,
    callers: Callers,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    telemetry.configure_tracing("registry")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter(tmp_path, "registry")))
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)

    async with (
        running_api(
            SPEC,
            database_url=fresh_database_url,
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            jwks_path=dev_issuer.jwks_path,
        ) as api,
        asgi_client(api, "registry") as http,
    ):
        response = await http.post(
            "/bkms",
            json=BKM,
            headers=callers.facilitator() | {"traceparent": f"00-{trace_id}-{caller_span}-01"},
        )
        assert response.status_code == 201, response.text
        for _ in range(100):  # the relay publishes in the background
            names = {s.name for s in read_spans(tmp_path) if s.trace_id == trace_id}
            if "publish salur.registry.BkmRegistered.v1" in names:
                break
            await asyncio.sleep(0.1)

    capsys.readouterr()
    assert cli.main(["trace", trace_id, "--dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"trace {trace_id}")
    # The request continues the caller's trace, whose own span is not in our files.
    assert lines[1].startswith("POST /bkms  [")
    assert lines[1].endswith(f"(parent {caller_span} not recorded)")
    [store] = [line for line in lines if "store Bkm events" in line]
    [publish] = [line for line in lines if "publish salur.registry.BkmRegistered.v1" in line]
    assert depth(store) >= 1
    assert depth(publish) == depth(store) + 1
    assert lines.index(publish) > lines.index(store)
