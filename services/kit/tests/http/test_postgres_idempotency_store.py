"""PostgresIdempotencyStore against a real Postgres, one throwaway database per test."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
from edge_app import Service, build_app
from salur_kit.auth import Role, TokenVerifier
from salur_kit.devtokens import DevIssuer
from salur_kit.http import IdempotencyScope, PostgresIdempotencyStore, StoredResponse

pytestmark = pytest.mark.integration
ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql://salur:salur@127.0.0.1:55432/postgres")
BODY = {"name": "BKM Maju", "households": 12, "bank_account": {"number": "0123456", "holder": "A"}}


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    # Local stand-in until salur_kit.testing.fixtures.fresh_database_url exists.
    name = f"idem_{uuid.uuid4().hex[:12]}"
    try:
        admin = await psycopg.AsyncConnection.connect(ADMIN_URL, autocommit=True)
    except psycopg.OperationalError as error:
        pytest.skip(f"no Postgres at {ADMIN_URL}: {error}")
    async with admin:
        await admin.execute(f'CREATE DATABASE "{name}"')
    yield psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)
    async with await psycopg.AsyncConnection.connect(ADMIN_URL, autocommit=True) as admin:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
async def pg_store(database_url: str) -> AsyncIterator[PostgresIdempotencyStore]:
    store = PostgresIdempotencyStore(database_url)
    yield store
    await store.close()


SCOPE = IdempotencyScope("alice", "POST", "/things", "k1")


async def test_the_first_reservation_wins_and_later_ones_see_it(
    pg_store: PostgresIdempotencyStore,
) -> None:
    assert await pg_store.reserve(SCOPE, "f1") is None
    prior = await pg_store.reserve(SCOPE, "f1")
    assert prior is not None
    assert (prior.fingerprint, prior.response) == ("f1", None)


async def test_a_completed_answer_is_returned_byte_for_byte(
    pg_store: PostgresIdempotencyStore,
) -> None:
    stored = StoredResponse(201, (("content-type", "application/json"), ("etag", '"1"')), b"{}")
    await pg_store.reserve(SCOPE, "f1")
    await pg_store.complete(SCOPE, stored)
    prior = await pg_store.reserve(SCOPE, "f1")
    assert prior is not None
    assert prior.response == stored


async def test_a_released_key_can_be_reserved_again(pg_store: PostgresIdempotencyStore) -> None:
    await pg_store.reserve(SCOPE, "f1")
    await pg_store.release(SCOPE)
    assert await pg_store.reserve(SCOPE, "f2") is None


async def test_an_expired_key_is_forgotten(database_url: str) -> None:
    store = PostgresIdempotencyStore(database_url, lifetime_seconds=0.2)
    try:
        await store.reserve(SCOPE, "f1")
        await store.complete(SCOPE, StoredResponse(200, (), b"{}"))
        await asyncio.sleep(0.3)
        assert await store.reserve(SCOPE, "f2") is None
    finally:
        await store.close()


async def test_a_reservation_abandoned_by_a_dead_process_can_be_taken_over(
    database_url: str,
) -> None:
    store = PostgresIdempotencyStore(database_url, abandoned_after_seconds=0.2)
    try:
        await store.reserve(SCOPE, "f1")
        assert await store.reserve(SCOPE, "f1") is not None
        await asyncio.sleep(0.3)
        assert await store.reserve(SCOPE, "f1") is None
    finally:
        await store.close()


async def test_concurrent_identical_requests_take_effect_once(
    pg_store: PostgresIdempotencyStore, verifier: TokenVerifier, issuer: DevIssuer
) -> None:
    service = Service()
    app = build_app(pg_store, verifier, service)
    token = issuer.token(role=Role.auditor, subject="alice")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "same"}
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        first, second, _ = await asyncio.gather(
            client.post("/slow", json=BODY, headers=headers),
            client.post("/slow", json=BODY, headers=headers),
            _release_soon(service),
        )
        replay = await client.post("/slow", json=BODY, headers=headers)
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    assert service.effects == 1
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"


async def _release_soon(service: Service) -> httpx.Response:
    await asyncio.sleep(0.3)
    service.release.set()
    return httpx.Response(204)


async def test_racing_replicas_reserve_a_key_exactly_once(database_url: str) -> None:
    replicas = [PostgresIdempotencyStore(database_url) for _ in range(4)]
    try:
        await asyncio.gather(*(replica.reserve(SCOPE, "warm-up") for replica in replicas))
        race = IdempotencyScope("alice", "POST", "/things", "race")
        outcomes = await asyncio.gather(*(replica.reserve(race, "f1") for replica in replicas))
        assert [outcome is None for outcome in outcomes].count(True) == 1
    finally:
        await asyncio.gather(*(replica.close() for replica in replicas))
