from __future__ import annotations

import asyncio

import httpx
import pytest
from edge_app import Service
from salur_kit.auth import Role
from salur_kit.devtokens import DevIssuer
from salur_kit.http import (
    IdempotencyScope,
    IdempotencyStore,
    InMemoryIdempotencyStore,
    PriorRequest,
)

pytestmark = pytest.mark.unit
BODY = {"name": "BKM Maju", "households": 12, "bank_account": {"number": "0123456", "holder": "A"}}


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def test_a_retry_replays_the_first_answer_with_a_single_effect(
    client: httpx.AsyncClient, service: Service
) -> None:
    first = await client.post("/things", json=BODY, headers=keyed("k1"))
    retry = await client.post("/things", json=BODY, headers=keyed("k1"))
    assert service.effects == 1
    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["etag"] == first.headers["etag"]
    assert retry.headers["location"] == first.headers["location"]
    assert retry.headers["content-type"] == first.headers["content-type"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


async def test_a_refusal_is_replayed_too(client: httpx.AsyncClient) -> None:
    first = await client.post("/errors/conflict", headers=keyed("k-refused"))
    retry = await client.post("/errors/conflict", headers=keyed("k-refused"))
    assert first.status_code == retry.status_code == 409
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"


async def test_the_same_key_with_another_body_is_a_422(
    client: httpx.AsyncClient, service: Service
) -> None:
    await client.post("/things", json=BODY, headers=keyed("k2"))
    other = await client.post("/things", json={**BODY, "households": 13}, headers=keyed("k2"))
    assert other.status_code == 422
    assert other.json()["errors"][0]["rule"] == "idempotency-key-reuse"
    assert service.effects == 1


async def test_the_same_key_while_the_first_runs_is_a_409(
    client: httpx.AsyncClient, service: Service
) -> None:
    first = asyncio.create_task(client.post("/slow", headers=keyed("k3")))
    await asyncio.sleep(0.05)
    concurrent = await client.post("/slow", headers=keyed("k3"))
    service.release.set()
    assert concurrent.status_code == 409
    assert (await first).status_code == 200
    assert service.effects == 1


async def test_a_server_error_is_not_stored_so_a_retry_runs_again(
    client: httpx.AsyncClient, service: Service
) -> None:
    service.crash_next = True
    failed = await client.post("/things", json=BODY, headers=keyed("k4"))
    retry = await client.post("/things", json=BODY, headers=keyed("k4"))
    assert failed.status_code == 500
    assert retry.status_code == 201
    assert "idempotent-replayed" not in retry.headers
    assert service.effects == 1


async def test_keys_are_scoped_by_caller(
    client: httpx.AsyncClient, service: Service, issuer: DevIssuer
) -> None:
    bob = issuer.token(role=Role.auditor, subject="bob")
    await client.post("/things", json=BODY, headers=keyed("shared"))
    await client.post(
        "/things", json=BODY, headers={**keyed("shared"), "Authorization": f"Bearer {bob}"}
    )
    assert service.effects == 2


async def test_requests_without_a_key_each_take_effect(
    client: httpx.AsyncClient, service: Service
) -> None:
    await client.post("/things", json=BODY)
    await client.post("/things", json=BODY)
    assert service.effects == 2


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_an_empty_or_overlong_key_is_a_400(
    client: httpx.AsyncClient, service: Service, key: str
) -> None:
    response = await client.post("/things", json=BODY, headers=keyed(key))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert service.effects == 0


async def test_an_invalid_token_with_a_key_is_a_401_and_stores_nothing(
    client: httpx.AsyncClient, service: Service
) -> None:
    headers = {**keyed("k5"), "Authorization": "Bearer nonsense"}
    response = await client.post("/things", json=BODY, headers=headers)
    assert response.status_code == 401
    assert (await client.post("/things", json=BODY, headers=keyed("k5"))).status_code == 201


class BrokenStore(InMemoryIdempotencyStore):
    async def reserve(self, scope: IdempotencyScope, fingerprint: str) -> PriorRequest | None:
        raise ConnectionError("database down")


@pytest.mark.parametrize("store", [BrokenStore()])
async def test_a_keyed_command_does_not_run_when_the_store_is_down(
    client: httpx.AsyncClient, service: Service, store: IdempotencyStore
) -> None:
    response = await client.post("/things", json=BODY, headers=keyed("k6"))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert service.effects == 0
