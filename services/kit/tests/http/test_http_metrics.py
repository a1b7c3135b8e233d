"""Every API built with create_api serves /metrics with its request latencies per route."""

from __future__ import annotations

import httpx
import pytest
from salur_kit.metrics import parse

pytestmark = pytest.mark.unit
VALID = {"name": "BKM Maju", "households": 12, "bank_account": {"number": "0123456", "holder": "A"}}


def counts(text: str) -> dict[tuple[str, str, str], float]:
    return {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for s in parse(text)
        if s.name == "salur_http_request_duration_seconds_count"
    }


async def test_request_latency_is_counted_per_route_template_method_and_status(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post("/things", json=VALID)).status_code == 201
    assert (await client.post("/things", json=VALID)).status_code == 201
    assert (await client.post("/things", json={"name": 1})).status_code == 422
    assert (await client.put("/things/7", json={})).status_code == 200
    assert (await client.put("/things/8", json={})).status_code == 200
    assert (await client.get("/no/such/path")).status_code == 404
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert counts(response.text) == {
        ("POST", "/things", "201"): 2,
        ("POST", "/things", "422"): 1,
        ("PUT", "/things/{thing_id}", "200"): 2,
        ("GET", "unmatched", "404"): 1,
    }


async def test_a_crash_is_measured_as_a_500(client: httpx.AsyncClient) -> None:
    assert (await client.post("/errors/crash")).status_code == 500
    text = (await client.get("/metrics")).text
    assert counts(text) == {("POST", "/errors/{kind}", "500"): 1}
    buckets = [
        s
        for s in parse(text)
        if s.name == "salur_http_request_duration_seconds_bucket" and s.labels["le"] == "+Inf"
    ]
    assert [b.value for b in buckets] == [1]
