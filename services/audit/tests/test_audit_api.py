"""The ledger's public HTTP API on the running service (real Kafka and Postgres): entries,
checkpoints, proofs an outside verifier accepts, and replays as of past moments that equal
the totals the service showed live at those moments."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from salur_audit.bootstrap import build_api
from salur_audit.settings import AuditSettings
from salur_audit.testing import Story, chunks, create_topics, delete_topics, publish, unique_names
from salur_audit.verifier import (
    Checkpoint,
    leaf_hash,
    load_public_key,
    verify_consistency,
    verify_entry,
)
from salur_kit.kafka import new_producer
from salur_kit.testing.services import asgi_client

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
Service = tuple[httpx.AsyncClient, AIOKafkaProducer, str]


@pytest.fixture
async def service(
    kafka_bootstrap_servers: str, fresh_database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, AIOKafkaProducer, str]]:
    source, checkpoints, dead = unique_names(3)
    await create_topics(kafka_bootstrap_servers, [source], partitions=3)
    await create_topics(kafka_bootstrap_servers, [checkpoints, dead], partitions=1)
    settings = AuditSettings(
        DATABASE_URL=fresh_database_url,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap_servers,
        SALUR_AUDIT_SIGNING_KEY=str(tmp_path / "key.pem"),
        SALUR_AUDIT_SOURCE_TOPICS=[source],
        SALUR_AUDIT_CHECKPOINT_TOPIC=checkpoints,
        SALUR_AUDIT_SEAL_SECONDS=0.05,
    )
    api = build_api(settings)
    producer = new_producer(kafka_bootstrap_servers, client_id="audit-api-test")
    await producer.start()
    try:
        async with api.router.lifespan_context(api), asgi_client(api, "audit") as client:
            yield client, producer, source
    finally:
        await producer.stop()
        with contextlib.suppress(Exception):
            await delete_topics(kafka_bootstrap_servers, [source, checkpoints, dead])


async def _size(client: httpx.AsyncClient, size: int) -> dict[str, Any]:
    for _ in range(600):
        head: dict[str, Any] = (await client.get("/ledger")).json()
        latest = await client.get("/checkpoints/latest")
        if head["size"] >= size and latest.status_code == 200 and latest.json()["size"] >= size:
            return head
        await asyncio.sleep(0.1)
    raise AssertionError(f"the ledger did not reach {size} entries")


async def test_the_public_api_serves_entries_proofs_and_replays(service: Service) -> None:
    client, producer, source = service
    story = Story.of(24, seed=4).events
    waves = list(chunks(story, 40))
    live: list[tuple[str, dict[str, Any]]] = []
    published = 0
    # Act 1: events arrive in waves; after each, the live totals are what /replay shows now.
    for wave in waves:
        await publish(producer, source, wave)
        published += len(wave)
        await _size(client, published)
        snapshot = (await client.get("/replay")).json()
        live.append((wave[-1].time.isoformat(), snapshot))

    head = await _size(client, len(story))
    key = load_public_key(head["public_key"])

    # Act 2: entries page through the whole ledger in order.
    seen: list[int] = []
    start: int | None = 0
    while start is not None:
        page = (await client.get("/entries", params={"start": start, "limit": 50})).json()
        seen.extend(e["seq"] for e in page["entries"])
        start = page["next"]
    assert seen == list(range(len(story)))
    entry = (await client.get("/entries/7")).json()
    assert entry["event"]["id"] in {e.id for e in story}
    assert entry["leaf_hash"] == leaf_hash(entry["canonical"].encode()).hex()

    # Act 3: an outside auditor checks entries against the latest signed checkpoint.
    checkpoint = Checkpoint.from_json((await client.get("/checkpoints/latest")).json())
    for index in (0, 1, 17, len(story) - 1):
        proof = (
            await client.get("/proofs/inclusion", params={"index": index, "size": checkpoint.size})
        ).json()
        canonical = (await client.get(f"/entries/{index}")).json()["canonical"].encode()
        assert verify_entry(
            key, checkpoint, canonical, index, [bytes.fromhex(p) for p in proof["proof"]]
        )
        assert not verify_entry(
            key, checkpoint, canonical + b" ", index, [bytes.fromhex(p) for p in proof["proof"]]
        )
    checkpoints = [Checkpoint.from_json(c) for c in (await client.get("/checkpoints")).json()]
    assert len(checkpoints) >= len(waves)
    older = checkpoints[0]
    consistency = (
        await client.get(
            "/proofs/consistency", params={"first": older.size, "second": checkpoint.size}
        )
    ).json()
    assert verify_consistency(
        older.size,
        checkpoint.size,
        [bytes.fromhex(p) for p in consistency["proof"]],
        older.root,
        checkpoint.root,
    )

    # Act 4: the replay as of each past moment equals what was live then.
    for moment, snapshot in live:
        replayed = (await client.get("/replay", params={"as_of": moment})).json()
        assert {k: v for k, v in replayed.items() if k != "as_of"} == {
            k: v for k, v in snapshot.items() if k != "as_of"
        }
    final = live[-1][1]
    assert final["anomalies"] == []
    assert len(final["agreements"]) == 24


async def test_bad_requests_get_problems_and_nothing_is_writable(service: Service) -> None:
    client, _, _ = service
    missing = await client.get("/entries/12345")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    for path, params in (
        ("/proofs/inclusion", {"index": "-1"}),
        ("/proofs/inclusion", {"index": "0", "size": "5"}),
        ("/proofs/consistency", {"first": "3", "second": "99"}),
        ("/replay", {"as_of": "yesterday"}),
        ("/replay", {"as_of": "2026-06-30T00:00:00"}),
        ("/entries", {"limit": "100000"}),
    ):
        response = await client.get(path, params=params)
        assert response.status_code == 422, (path, params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    for method in ("POST", "PUT", "DELETE"):
        assert (await client.request(method, "/entries/0")).status_code == 405
    assert (await client.get("/checkpoints/latest")).status_code == 404
