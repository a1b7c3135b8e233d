from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from edge_app import MAX_BODY, Service

pytestmark = pytest.mark.unit
PROBLEM = "application/problem+json"
VALID = {"name": "BKM Maju", "households": 12, "bank_account": {"number": "0123456", "holder": "A"}}


@pytest.mark.parametrize(
    ("kind", "status", "field", "rule"),
    [
        ("rule", 422, "amount", "envelope"),
        ("not-found", 404, None, None),
        ("forbidden", 403, None, None),
        ("unauthorized", 401, None, None),
        ("conflict", 409, None, None),
        ("stale", 409, "If-Match", "optimistic-concurrency"),
    ],
)
async def test_each_error_class_becomes_a_problem_with_its_status(
    client: httpx.AsyncClient, kind: str, status: int, field: str | None, rule: str | None
) -> None:
    response = await client.post(f"/errors/{kind}")
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "errors"} <= body.keys()
    if field is not None:
        assert body["errors"] == [{"field": field, "rule": rule, "message": body["detail"]}]


async def test_an_unexpected_error_is_a_500_without_internals(client: httpx.AsyncClient) -> None:
    response = await client.post("/errors/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert "secret" not in response.text


async def test_validation_names_every_failing_field_with_its_rule(
    client: httpx.AsyncClient,
) -> None:
    body = {"households": "12", "bank_account": {"number": "12ab", "holder": "A", "iban": "x"}}
    response = await client.post("/things", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    errors = {(e["field"], e["rule"]) for e in response.json()["errors"]}
    assert errors == {
        ("body.name", "missing"),
        ("body.households", "int_type"),
        ("body.bank_account.number", "string_pattern_mismatch"),
        ("body.bank_account.iban", "extra_forbidden"),
    }


async def test_an_unknown_field_is_refused_by_name(client: httpx.AsyncClient) -> None:
    response = await client.post("/things", json={**VALID, "colour": "red"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.colour"
    assert response.json()["errors"][0]["rule"] == "extra_forbidden"


async def test_an_amount_sent_as_a_json_number_is_refused(
    client: httpx.AsyncClient, service: Service
) -> None:
    response = await client.post("/things", json={**VALID, "amount": 1500000.5})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.amount"
    assert response.json()["errors"][0]["rule"] == "decimal_as_string"
    assert service.effects == 0


async def test_an_amount_sent_as_a_decimal_string_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/things", json={**VALID, "amount": "1500000.50"})
    assert response.status_code == 201


async def test_strings_are_stripped_and_the_command_runs(
    client: httpx.AsyncClient, service: Service
) -> None:
    response = await client.post("/things", json={**VALID, "name": "  BKM  "})
    assert response.status_code == 201
    assert response.headers["etag"] == '"1"'
    assert service.effects == 1


async def test_malformed_json_is_a_400_naming_the_position(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/things", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"].startswith("malformed JSON at position 9")


async def test_a_body_that_is_not_json_is_a_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/things", content=b"name=x", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM


async def test_an_oversized_body_is_refused_by_its_content_length(
    client: httpx.AsyncClient, service: Service
) -> None:
    response = await client.post("/things", json={**VALID, "name": "x" * (MAX_BODY + 1)})
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert service.effects == 0


async def test_an_oversized_chunked_body_is_refused_while_streaming(
    client: httpx.AsyncClient, service: Service
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(MAX_BODY // 100 + 1):
            yield b"x" * 100
        yield b'"}'

    response = await client.post(
        "/things", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert service.effects == 0


async def test_an_oversized_chunked_body_with_an_idempotency_key_is_refused_too(
    client: httpx.AsyncClient, service: Service
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_BODY // 100 + 2):
            yield b"x" * 100

    response = await client.post(
        "/things",
        content=chunks(),
        headers={"content-type": "application/json", "Idempotency-Key": "k"},
    )
    assert response.status_code == 413


async def test_routing_errors_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    wrong_method = await client.delete("/public")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == PROBLEM
    assert wrong_method.headers["allow"] == "GET"


async def test_a_stale_if_match_is_a_409(client: httpx.AsyncClient) -> None:
    response = await client.put("/things/1", headers={"If-Match": '"2"'})
    assert response.status_code == 409
    assert response.json()["errors"][0]["rule"] == "optimistic-concurrency"


@pytest.mark.parametrize("if_match", ['"3"', "3"])
async def test_the_current_version_in_if_match_is_accepted(
    client: httpx.AsyncClient, if_match: str
) -> None:
    response = await client.put("/things/1", headers={"If-Match": if_match})
    assert response.status_code == 200
    assert response.json() == {"expected": 3}
    assert response.headers["etag"] == '"4"'


async def test_a_malformed_if_match_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.put("/things/1", headers={"If-Match": 'W/"x"'})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "If-Match"


async def test_liveness_answers_while_the_process_runs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200


async def test_readiness_reports_every_check(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"postgres": "ok", "kafka": "ok"}}


async def test_readiness_is_503_naming_the_failing_check(
    client: httpx.AsyncClient, service: Service
) -> None:
    service.kafka_healthy = False
    response = await client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["postgres"] == "ok"
    assert "broker unreachable" in checks["kafka"]


async def test_openapi_declares_the_bearer_scheme(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert (await client.get("/docs")).status_code == 200


async def test_each_request_leaves_one_access_log_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="salur_kit.http.access"):
        await client.get("/healthz")
    [record] = [r for r in caplog.records if r.name == "salur_kit.http.access"]
    fields = record.fields  # type: ignore[attr-defined]
    assert fields["method"] == "GET"
    assert fields["path"] == "/healthz"
    assert fields["status"] == 200
    assert fields["duration_ms"] >= 0


async def test_openapi_documents_errors_as_problems(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    responses = schema["paths"]["/things"]["post"]["responses"]
    for status in ("422", "default"):
        content = responses[status]["content"]
        assert content == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert "HTTPValidationError" not in schema["components"]["schemas"]
