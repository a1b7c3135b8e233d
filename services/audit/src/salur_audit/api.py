"""The ledger over HTTP: read-only and public, for auditors and anyone else who checks.

Hashes and proofs travel as lowercase hex; entries as their canonical CloudEvent object.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from salur_kit.errors import NotFoundError, RuleViolationError

from salur_audit import ledger
from salur_audit.canonical import document_of
from salur_audit.replay import replay_ledger
from salur_audit.signing import Signer
from salur_audit.verifier import leaf_hash

router = APIRouter()


class Head(BaseModel):
    size: int = Field(description="Entries in the ledger.")
    root: str = Field(description="Merkle root of all entries (hex).")
    key_id: str = Field(description="Id of the key that signs checkpoints.")
    public_key: str = Field(description="Raw Ed25519 public key, base64.")


class EntryOut(BaseModel):
    seq: int
    leaf_hash: str
    topic: str
    partition: int
    offset: int
    event: dict[str, Any] = Field(description="The CloudEvent: attributes and data.")
    canonical: str = Field(description="The RFC 8785 bytes that were hashed, as UTF-8 text.")


class EntryPage(BaseModel):
    entries: list[EntryOut]
    next: int | None = Field(description="`start` of the next page, null at the end.")


class CheckpointOut(BaseModel):
    origin: str
    number: int
    size: int
    root: str
    time: str
    key_id: str
    frontier: dict[str, int]
    signature: str


class InclusionProof(BaseModel):
    index: int
    size: int
    root: str
    leaf_hash: str
    proof: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


def _entry_out(stored: ledger.StoredEntry) -> EntryOut:
    return EntryOut(
        seq=stored.seq,
        leaf_hash=leaf_hash(stored.canonical).hex(),
        topic=stored.topic,
        partition=stored.partition,
        offset=stored.offset,
        event=document_of(stored.canonical),
        canonical=stored.canonical.decode(),
    )


def _signer(request: Request) -> Signer:
    signer: Signer = request.app.state.signer
    return signer


async def _size(conn: ledger.AConn, size: int | None) -> int:
    current = await ledger.size(conn)
    if size is None:
        return current
    if size > current:
        raise RuleViolationError(
            f"the ledger holds {current} entries, not {size}", field="size", rule="size <= ledger"
        )
    return size


@router.get("/ledger", tags=["ledger"])
async def head(request: Request) -> Head:
    signer = _signer(request)
    async with request.app.state.read_pool.connection() as conn:
        size = await ledger.size(conn)
        root = await ledger.root(conn, size)
    return Head(
        size=size, root=root.hex(), key_id=signer.key_id, public_key=signer.public_key_base64()
    )


@router.get("/entries", tags=["ledger"])
async def list_entries(
    request: Request,
    start: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EntryPage:
    async with request.app.state.read_pool.connection() as conn:
        found = await ledger.entries(conn, start, limit + 1)
    more = len(found) > limit
    return EntryPage(
        entries=[_entry_out(e) for e in found[:limit]],
        next=found[limit].seq if more else None,
    )


@router.get("/entries/{seq}", tags=["ledger"])
async def get_entry(request: Request, seq: int) -> EntryOut:
    async with request.app.state.read_pool.connection() as conn:
        found = await ledger.entry(conn, seq)
    if found is None:
        raise NotFoundError(f"no ledger entry {seq}", field="seq")
    return _entry_out(found)


@router.get("/checkpoints", tags=["checkpoints"])
async def list_checkpoints(
    request: Request,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CheckpointOut]:
    async with request.app.state.read_pool.connection() as conn:
        found = await ledger.checkpoints(conn, after=after, limit=limit)
    return [CheckpointOut.model_validate(c.to_json()) for c in found]


@router.get("/checkpoints/latest", tags=["checkpoints"])
async def latest_checkpoint(request: Request) -> CheckpointOut:
    async with request.app.state.read_pool.connection() as conn:
        found = await ledger.latest_checkpoint(conn)
    if found is None:
        raise NotFoundError("no checkpoint has been signed yet")
    return CheckpointOut.model_validate(found.to_json())


@router.get("/proofs/inclusion", tags=["proofs"])
async def inclusion(
    request: Request,
    index: Annotated[int, Query(ge=0, description="Entry sequence number.")],
    size: Annotated[
        int | None, Query(ge=1, description="Tree size; the ledger's by default.")
    ] = None,
) -> InclusionProof:
    async with request.app.state.read_pool.connection() as conn:
        tree_size = await _size(conn, size)
        if index >= tree_size:
            raise RuleViolationError(
                f"entry {index} is not in a tree of {tree_size} entries",
                field="index",
                rule="index < size",
            )
        proof = await ledger.inclusion_proof(conn, index, tree_size)
        root = await ledger.root(conn, tree_size)
        leaf = await ledger.nodes(conn, [(0, index)])
    return InclusionProof(
        index=index,
        size=tree_size,
        root=root.hex(),
        leaf_hash=leaf[(0, index)].hex(),
        proof=[p.hex() for p in proof],
    )


@router.get("/proofs/consistency", tags=["proofs"])
async def consistency(
    request: Request,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int | None, Query(ge=0)] = None,
) -> ConsistencyProof:
    async with request.app.state.read_pool.connection() as conn:
        second_size = await _size(conn, second)
        if first > second_size:
            raise RuleViolationError(
                f"first ({first}) must not exceed second ({second_size})",
                field="first",
                rule="first <= second",
            )
        proof = await ledger.consistency_proof(conn, first, second_size)
        first_root = await ledger.root(conn, first)
        second_root = await ledger.root(conn, second_size)
    return ConsistencyProof(
        first=first,
        second=second_size,
        first_root=first_root.hex(),
        second_root=second_root.hex(),
        proof=[p.hex() for p in proof],
    )


@router.get("/replay", tags=["replay"])
async def replay(
    request: Request,
    as_of: Annotated[
        dt.datetime | None, Query(description="RFC 3339 time with offset; now by default.")
    ] = None,
) -> dict[str, Any]:
    if as_of is not None and as_of.tzinfo is None:
        raise RuleViolationError("as_of needs a UTC offset", field="as_of", rule="RFC 3339")
    async with request.app.state.read_pool.connection() as conn:
        report = await replay_ledger(conn, as_of)
    return report.as_json()
