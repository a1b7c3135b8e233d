"""The ledger in Postgres: append-only entries, stored Merkle nodes and signed checkpoints.

Tables are created by the owner role (migration); the service appends through a writer
role granted only INSERT and SELECT, and triggers refuse UPDATE, DELETE and TRUNCATE even
to the owner, so changing history takes a deliberate act that `verify` then detects.
One writer at a time: an append takes a transaction-level advisory lock and checks that
the last checkpoint is the one it extends.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from salur_audit import merkle
from salur_audit.canonical import Entry
from salur_audit.verifier import Checkpoint

TABLES = ("audit_entries", "audit_nodes", "audit_checkpoints", "audit_publications")
WRITER_LOCK = 0x5A1A_0D17  # pg_advisory_xact_lock key of the one ledger writer
MIGRATION_LOCK = 0x5A1A_0D18  # replicas starting together migrate one after another

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_entries (
    seq bigint PRIMARY KEY CHECK (seq >= 0),
    source text NOT NULL,
    event_id text NOT NULL,
    type text NOT NULL,
    subject text NOT NULL,
    event_time timestamptz NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    "offset" bigint NOT NULL,
    canonical bytea NOT NULL,
    UNIQUE (source, event_id)
);
CREATE INDEX IF NOT EXISTS audit_entries_type_time ON audit_entries (type, event_time);
CREATE TABLE IF NOT EXISTS audit_nodes (
    id bigint PRIMARY KEY,  -- (level << 56) | index: one small key, ordered by level
    hash bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    number bigint PRIMARY KEY CHECK (number >= 1),
    size bigint NOT NULL,
    root bytea NOT NULL,
    time timestamptz NOT NULL,
    key_id text NOT NULL,
    frontier jsonb NOT NULL,
    signature bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_publications (
    number bigint PRIMARY KEY,
    published_at timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
"""

_TRIGGERS = """
CREATE OR REPLACE TRIGGER {row} BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE OR REPLACE TRIGGER {statement} BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
REVOKE ALL ON {table} FROM {writer};
GRANT SELECT, INSERT ON {table} TO {writer};
"""


LEVEL_SHIFT = 56
INDEX_MASK = (1 << LEVEL_SHIFT) - 1


def node_id(level: int, index: int) -> int:
    return (level << LEVEL_SHIFT) | index


def node_key(identifier: int) -> merkle.NodeKey:
    return (identifier >> LEVEL_SHIFT, identifier & INDEX_MASK)


class WriterRoleMissingError(RuntimeError):
    pass


class ConcurrentWriterError(RuntimeError):
    """Another writer extended the ledger since this one loaded it."""


def migrate(owner_url: str, writer_role: str) -> None:
    """Create tables, triggers and grants; idempotent. Runs as the tables' owner."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        _ensure_role(conn, writer_role)
        with conn.transaction():
            # Concurrent CREATE ... IF NOT EXISTS, GRANT and REVOKE collide in the catalogs
            # (duplicate pg_type rows, "tuple concurrently updated"): one at a time.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            conn.execute(SCHEMA)
            for table in TABLES:
                conn.execute(
                    sql.SQL(_TRIGGERS).format(
                        table=sql.Identifier(table),
                        row=sql.Identifier(f"{table}_append_only"),
                        statement=sql.Identifier(f"{table}_no_truncate"),
                        writer=sql.Identifier(writer_role),
                    )
                )


def _ensure_role(conn: psycopg.Connection[Any], role: str) -> None:
    found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
    if found:
        return
    try:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    except psycopg.errors.InsufficientPrivilege:
        raise WriterRoleMissingError(
            f"the ledger writer role {role!r} does not exist and this role may not create it: "
            "run infra/postgres-init.sql as a superuser (infra/postgres.sh start does)"
        ) from None


@dataclass(frozen=True)
class StoredEntry:
    seq: int
    source: str
    event_id: str
    type: str
    subject: str
    time: dt.datetime
    topic: str
    partition: int
    offset: int
    canonical: bytes


_ENTRY_COLUMNS = (
    'seq, source, event_id, type, subject, event_time, topic, partition, "offset", canonical'
)
AConn = psycopg.AsyncConnection[Any]


async def size(conn: AConn) -> int:
    cur = await conn.execute("SELECT coalesce(max(seq) + 1, 0) FROM audit_entries")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def nodes(conn: AConn, keys: Sequence[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
    if not keys:
        return {}
    cur = await conn.execute(
        "SELECT id, hash FROM audit_nodes WHERE id = ANY(%s::bigint[])",
        [[node_id(*key) for key in keys]],
    )
    return {node_key(int(r[0])): bytes(r[1]) for r in await cur.fetchall()}


class MissingNodeError(LookupError):
    pass


async def compute(conn: AConn, computation: Any) -> Any:
    """Run a Merkle computation on stored nodes, fetched in one query."""
    fetched = await nodes(conn, merkle.needed(computation))

    def lookup(level: int, index: int) -> bytes:
        try:
            return fetched[(level, index)]
        except KeyError:
            raise MissingNodeError(f"Merkle node ({level}, {index}) is not stored") from None

    return computation(lookup)


async def compact_range(conn: AConn, tree_size: int) -> merkle.CompactRange:
    result: merkle.CompactRange = await compute(
        conn, lambda node: merkle.CompactRange.of(tree_size, node)
    )
    return result


async def root(conn: AConn, tree_size: int) -> bytes:
    result: bytes = await compute(conn, lambda node: merkle.root(tree_size, node))
    return result


async def inclusion_proof(conn: AConn, index: int, tree_size: int) -> list[bytes]:
    result: list[bytes] = await compute(
        conn, lambda node: merkle.inclusion_proof(index, tree_size, node)
    )
    return result


async def consistency_proof(conn: AConn, size1: int, size2: int) -> list[bytes]:
    result: list[bytes] = await compute(
        conn, lambda node: merkle.consistency_proof(size1, size2, node)
    )
    return result


def _entry(row: Sequence[Any]) -> StoredEntry:
    return StoredEntry(
        seq=int(row[0]),
        source=row[1],
        event_id=row[2],
        type=row[3],
        subject=row[4],
        time=row[5],
        topic=row[6],
        partition=int(row[7]),
        offset=int(row[8]),
        canonical=bytes(row[9]),
    )


async def entries(conn: AConn, start: int, limit: int) -> list[StoredEntry]:
    cur = await conn.execute(
        f"SELECT {_ENTRY_COLUMNS} FROM audit_entries WHERE seq >= %s ORDER BY seq LIMIT %s",
        [start, limit],
    )
    return [_entry(row) for row in await cur.fetchall()]


async def entry(conn: AConn, seq: int) -> StoredEntry | None:
    found = await entries(conn, seq, 1)
    return found[0] if found and found[0].seq == seq else None


def _filtered(
    columns: str, types_like: Sequence[str], until: dt.datetime | None
) -> tuple[str, list[object]]:
    conditions: list[str] = []
    params: list[object] = []
    if types_like:
        conditions.append("type LIKE ANY(%s)")
        params.append(list(types_like))
    if until is not None:
        conditions.append("event_time <= %s")
        params.append(until)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT {columns} FROM audit_entries {where} ORDER BY seq", params


_ENTRY_TYPES = ["int8", "text", "text", "text", "text", "timestamptz", "text", "int4", "int8"]
BATCH_ROWS = 10_000


def stream_rows(conn: AConn, query: str, params: Sequence[object]) -> AsyncIterator[Any]:
    """Rows of a query in binary, streamed by libpq in chunks of 10,000: the server goes on
    sending while the caller works through a chunk (a named cursor's FETCH waits a round
    trip per batch, and measured more client CPU), and a million rows never sit in a list.
    psycopg's own iterator is returned: a generator wrapped around it costs a resumption
    per row."""
    return conn.cursor(binary=True).stream(query, params, size=BATCH_ROWS)


def stream_canonical(
    conn: AConn, *, types_like: Sequence[str] = (), until: dt.datetime | None = None
) -> AsyncIterator[tuple[int, str, bytes]]:
    """(seq, type, canonical bytes) rows only: what a replay reads."""
    query, params = _filtered("seq, type, canonical", types_like, until)
    return stream_rows(conn, query, params)


CHECKED_COLUMNS = "seq, source, event_id, type, subject, event_time, canonical"


def stream_checked(conn: AConn) -> AsyncIterator[Any]:
    """(seq, source, event_id, type, subject, event_time, canonical) rows in sequence
    order: what `verify` recomputes and compares, as plain tuples."""
    return stream_rows(conn, f"SELECT {CHECKED_COLUMNS} FROM audit_entries ORDER BY seq", [])


@dataclass(frozen=True)
class NodeSpan:
    """Stored nodes with ids in [first, stop): how many, their hash lengths, and the
    hashes concatenated in id order (aggregated by the server: one row for a whole span)."""

    count: int
    shortest: int
    longest: int
    hashes: bytes


async def node_span(conn: AConn, first: int, stop: int) -> NodeSpan:
    cur = await conn.execute(
        "SELECT count(*), coalesce(min(length(hash)), 0), coalesce(max(length(hash)), 0),"
        " coalesce(string_agg(hash, ''::bytea ORDER BY id), ''::bytea)"
        " FROM audit_nodes WHERE id >= %s AND id < %s",
        [first, stop],
        binary=True,
    )
    row = await cur.fetchone()
    assert row is not None  # an aggregate always returns a row
    return NodeSpan(int(row[0]), int(row[1]), int(row[2]), bytes(row[3]))


async def nodes_between(conn: AConn, first: int, stop: int) -> list[tuple[int, bytes]]:
    cur = await conn.execute(
        "SELECT id, hash FROM audit_nodes WHERE id >= %s AND id < %s ORDER BY id",
        [first, stop],
        binary=True,
    )
    return [(int(r[0]), bytes(r[1])) for r in await cur.fetchall()]


async def nodes_outside(
    conn: AConn, spans: Sequence[tuple[int, int]]
) -> AsyncIterator[tuple[int, bytes]]:
    """Stored nodes whose id lies in none of `spans` (sorted, disjoint [first, stop) pairs),
    by id: the gaps between spans are index ranges, so this reads only what is there."""
    conditions, params, below = [], [], None
    for first, stop in spans:
        if below is None:
            conditions.append("id < %s")
            params.append(first)
        elif below < first:
            conditions.append("(id >= %s AND id < %s)")
            params.extend((below, first))
        below = stop
    if below is None:
        conditions.append("TRUE")
    else:
        conditions.append("id >= %s")
        params.append(below)
    query = f"SELECT id, hash FROM audit_nodes WHERE {' OR '.join(conditions)} ORDER BY id"
    async for identifier, digest in stream_rows(conn, query, params):
        yield int(identifier), bytes(digest)


def _checkpoint(row: Sequence[Any]) -> Checkpoint:
    return Checkpoint(
        number=int(row[0]),
        size=int(row[1]),
        root=bytes(row[2]),
        time=row[3],
        key_id=row[4],
        frontier={str(k): int(v) for k, v in row[5].items()},
        signature=bytes(row[6]),
    )


_CHECKPOINT_COLUMNS = "number, size, root, time, key_id, frontier, signature"


async def checkpoints(conn: AConn, *, after: int = 0, limit: int = 1000) -> list[Checkpoint]:
    cur = await conn.execute(
        f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE number > %s"
        " ORDER BY number LIMIT %s",
        [after, limit],
    )
    return [_checkpoint(row) for row in await cur.fetchall()]


async def latest_checkpoint(conn: AConn) -> Checkpoint | None:
    cur = await conn.execute(
        f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY number DESC LIMIT 1"
    )
    row = await cur.fetchone()
    return _checkpoint(row) if row else None


async def unpublished(conn: AConn) -> list[Checkpoint]:
    cur = await conn.execute(
        f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints c"
        " WHERE NOT EXISTS (SELECT FROM audit_publications p WHERE p.number = c.number)"
        " ORDER BY number"
    )
    return [_checkpoint(row) for row in await cur.fetchall()]


async def mark_published(conn: AConn, number: int) -> None:
    await conn.execute(
        "INSERT INTO audit_publications (number) VALUES (%s) ON CONFLICT DO NOTHING", [number]
    )


async def insert_checkpoint(conn: AConn, checkpoint: Checkpoint) -> None:
    await conn.execute(
        f"INSERT INTO audit_checkpoints ({_CHECKPOINT_COLUMNS})"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            checkpoint.number,
            checkpoint.size,
            checkpoint.root,
            checkpoint.time,
            checkpoint.key_id,
            json.dumps(dict(checkpoint.frontier)),
            checkpoint.signature,
        ],
    )


async def known_identities(conn: AConn, batch: Sequence[Entry]) -> set[tuple[str, str]]:
    """Which of the batch's (source, id) pairs the ledger holds already. The pairs go as one
    JSON text (serialised in C) rather than two text arrays psycopg builds element by
    element, which cost a few percent of a whole append."""
    if not batch:
        return set()
    cur = await conn.execute(
        "SELECT e.source, e.event_id FROM audit_entries e"
        " JOIN (SELECT k->>0 AS source, k->>1 AS event_id FROM json_array_elements(%s::json) k)"
        " AS k ON e.source = k.source AND e.event_id = k.event_id",
        [json.dumps([e.identity for e in batch])],
    )
    return {(r[0], r[1]) for r in await cur.fetchall()}


async def copy_entries(conn: AConn, first_seq: int, batch: Sequence[Entry]) -> None:
    async with (
        conn.cursor() as cur,
        cur.copy(f"COPY audit_entries ({_ENTRY_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types([*_ENTRY_TYPES, "bytea"])
        for i, item in enumerate(batch):
            await copy.write_row(
                (
                    first_seq + i,
                    item.source,
                    item.event_id,
                    item.type,
                    item.subject,
                    item.time,
                    item.topic,
                    item.partition,
                    item.offset,
                    item.canonical,
                )
            )


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no extension
_COPY_TRAILER = b"\xff\xff"
_NODE_ROW = struct.Struct("!hiqi")  # 2 fields: an 8-byte id, then the hash's length


def binary_nodes(created: Sequence[tuple[int, int, bytes]]) -> bytes:
    """Nodes as one binary COPY payload (two of them per entry: building it in one join
    costs a fraction of a psycopg write_row per node)."""
    pack = _NODE_ROW.pack
    rows = [
        pack(2, 8, node_id(level, index), len(digest)) + digest for level, index, digest in created
    ]
    return b"".join([_COPY_SIGNATURE, *rows, _COPY_TRAILER])


async def copy_nodes(conn: AConn, created: Sequence[tuple[int, int, bytes]]) -> None:
    async with (
        conn.cursor() as cur,
        cur.copy("COPY audit_nodes (id, hash) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        await copy.write(binary_nodes(created))
