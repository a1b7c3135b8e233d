"""Idempotency keys in Postgres, shared by every replica of a service.

The reservation is a single `INSERT … ON CONFLICT DO NOTHING`: of two concurrent requests
with one key exactly one inserts, the other waits for that commit and then sees the row.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from salur_kit.http.idempotency import (
    KEY_LIFETIME_SECONDS,
    IdempotencyScope,
    PriorRequest,
    StoredResponse,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    subject     text        NOT NULL,
    method      text        NOT NULL,
    path        text        NOT NULL,
    key         text        NOT NULL,
    fingerprint text        NOT NULL,
    status      integer,
    headers     jsonb,
    body        bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, method, path, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON idempotency_keys (created_at);
"""
_WHERE_KEY = "subject = %s AND method = %s AND path = %s AND key = %s"
_PURGE_EVERY_SECONDS = 300.0


def _key(scope: IdempotencyScope) -> tuple[str, str, str, str]:
    return (scope.subject, scope.method, scope.path, scope.key)


class PostgresIdempotencyStore:
    def __init__(
        self,
        conninfo: str,
        *,
        lifetime_seconds: float = KEY_LIFETIME_SECONDS,
        abandoned_after_seconds: float = 300.0,
        max_connections: int = 4,
    ) -> None:
        self._lifetime = lifetime_seconds
        # A reservation this old without an answer belongs to a process that died mid-request;
        # without this the key would answer 409 for a whole day.
        self._abandoned_after = abandoned_after_seconds
        self._pool = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_connections,
            open=False,
            # No WAL flush per key: the reservation is written before the command's own
            # (synchronous) commit, whose flush covers every earlier WAL record, so a key
            # whose command took effect is durable with it. Only a stored answer can be
            # lost, in a Postgres crash within a fraction of a second after it; the key
            # then reads as in progress (409) until it is treated as abandoned. Two fsyncs
            # fewer per command is most of a command's latency on an ordinary disk.
            kwargs={"autocommit": True, "options": "-c synchronous_commit=off"},
        )
        self._ready = False
        self._lock = asyncio.Lock()
        self._purged_at = 0.0

    async def _start(self) -> None:
        # Opened on first use: the constructor runs outside any event loop (composition root).
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return
            await self._pool.open()
            async with self._pool.connection() as conn, conn.transaction():
                # Serialises CREATE … IF NOT EXISTS, which can race between replicas.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('idempotency_keys'))")
                await conn.execute(_SCHEMA)
            self._ready = True

    async def reserve(self, scope: IdempotencyScope, fingerprint: str) -> PriorRequest | None:
        await self._start()
        await self._purge_expired()
        async with self._pool.connection() as conn:
            # The common case, a new key, is one round trip. A key released between our
            # insert and select, or found stale and removed, is simply reserved again.
            for _ in range(3):
                inserted = await conn.execute(
                    "INSERT INTO idempotency_keys (subject, method, path, key, fingerprint)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                    (*_key(scope), fingerprint),
                )
                if await inserted.fetchone() is not None:
                    return None
                cursor = await conn.execute(
                    "SELECT fingerprint, status, headers, body,"
                    " created_at < now() - make_interval(secs => %s)"
                    " OR (status IS NULL AND created_at < now() - make_interval(secs => %s))"
                    f" FROM idempotency_keys WHERE {_WHERE_KEY}",
                    (self._lifetime, self._abandoned_after, *_key(scope)),
                )
                row = await cursor.fetchone()
                if row is None:
                    continue
                if row[4]:  # expired, or abandoned by a process that died mid-request
                    await conn.execute(
                        f"DELETE FROM idempotency_keys WHERE {_WHERE_KEY} AND fingerprint = %s",
                        (*_key(scope), row[0]),
                    )
                    continue
                return _prior(row[:4])
        raise RuntimeError("could not reserve or read the idempotency key")

    async def complete(self, scope: IdempotencyScope, response: StoredResponse) -> None:
        await self._start()
        async with self._pool.connection() as conn:
            await conn.execute(
                f"UPDATE idempotency_keys SET status = %s, headers = %s, body = %s"
                f" WHERE {_WHERE_KEY}",
                (
                    response.status,
                    Jsonb([list(header) for header in response.headers]),
                    response.body,
                    *_key(scope),
                ),
            )

    async def release(self, scope: IdempotencyScope) -> None:
        await self._start()
        async with self._pool.connection() as conn:
            await conn.execute(
                f"DELETE FROM idempotency_keys WHERE {_WHERE_KEY} AND status IS NULL",
                _key(scope),
            )

    async def close(self) -> None:
        await self._pool.close()
        self._ready = False

    async def _purge_expired(self) -> None:
        now = time.monotonic()
        if now - self._purged_at < _PURGE_EVERY_SECONDS:
            return
        self._purged_at = now
        async with self._pool.connection() as conn:
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => %s)",
                (self._lifetime,),
            )


def _prior(row: tuple[Any, ...]) -> PriorRequest:
    fingerprint, status, headers, body = row
    if status is None:
        return PriorRequest(fingerprint, None)
    stored = StoredResponse(
        status, tuple((str(name), str(value)) for name, value in headers), bytes(body)
    )
    return PriorRequest(fingerprint, stored)
