"""`salur audit verify`: recompute everything from the stored entries and say what is wrong.

Checks, each naming the entry or checkpoint at fault:
- sequence numbers are contiguous from 0 (a deleted entry leaves a gap);
- each entry's columns agree with its canonical bytes (what replay filters on);
- the Merkle tree recomputed from the entries equals the stored nodes (an edited entry,
  two entries swapped);
- every checkpoint, stored or held outside (files, the checkpoints topic), carries a valid
  signature, fits in the ledger (a truncated tail) and has the recomputed root of its size
  (a rewritten history), and each one is consistent with the next by an RFC 6962 proof
  (a rewritten and re-signed history);
- every CloudEvent on the source topics below the signed frontier is in the ledger with
  the same bytes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus
from salur_contracts.cloudevents import MalformedEventError

from salur_audit import ledger, merkle
from salur_audit.canonical import document_of, entry_of
from salur_audit.kafka_io import frontier_key, read_to_end
from salur_audit.verifier import Checkpoint, leaf_hash, verify_checkpoint, verify_consistency

Progress = Callable[[str, int, int], None]
MAX_PER_KIND = 50


@dataclass(frozen=True)
class Finding:
    kind: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.where}: {self.detail}"


@dataclass
class Verification:
    size: int = 0
    checkpoints: int = 0
    kafka_records: int = 0
    findings: list[Finding] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, kind: str, where: str, detail: str) -> None:
        self._counts[kind] = self._counts.get(kind, 0) + 1
        if self._counts[kind] <= MAX_PER_KIND:
            self.findings.append(Finding(kind, where, detail))

    def summary(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "checkpoints": self.checkpoints,
            "kafka_records": self.kafka_records,
            "problems": dict(self._counts),
            "findings": [vars(f) for f in self.findings],
        }


@dataclass
class _Scan:
    leaves: list[bytes] = field(default_factory=list)
    identities: dict[tuple[str, str], tuple[int, bytes]] = field(default_factory=dict)


async def verify(
    conn: ledger.AConn,
    public_key: Ed25519PublicKey,
    *,
    external: Sequence[Checkpoint] = (),
    kafka: str | None = None,
    topics: Sequence[str] = (),
    checkpoint_topic: str | None = None,
    progress: Progress | None = None,
) -> Verification:
    result = Verification()
    # Copies held outside are read first: each was published after its transaction
    # committed, so the snapshot taken next contains everything they sign, even while
    # the service goes on appending.
    held = list(external)
    if kafka is not None and checkpoint_topic is not None:
        held.extend(await _published(kafka, checkpoint_topic))
    async with _snapshot(conn):
        scan = await _scan_entries(conn, result, progress, identities=kafka is not None)
        levels = merkle.build_levels(scan.leaves)
        result.size = len(scan.leaves)
        await _compare_nodes(conn, levels, result)
        stored = await ledger.checkpoints(conn, limit=10**9)
    signed = _check_checkpoints([*stored, *held], levels, public_key, result)
    if kafka is not None and topics:
        await _compare_kafka(kafka, topics, signed, scan, result, progress)
    return result


@contextlib.asynccontextmanager
async def _snapshot(conn: ledger.AConn) -> AsyncIterator[None]:
    """One REPEATABLE READ snapshot for entries, nodes and checkpoints; a caller already
    inside a transaction (a test holding its tampering uncommitted) keeps its own."""
    if conn.info.transaction_status != TransactionStatus.IDLE:
        yield
        return
    autocommit = conn.autocommit
    await conn.set_autocommit(False)
    await conn.set_isolation_level(IsolationLevel.REPEATABLE_READ)
    try:
        async with conn.transaction():
            yield
    finally:
        await conn.set_isolation_level(None)
        await conn.set_autocommit(autocommit)


_COLUMNS_DIFFER = "its columns (source, id, type, subject, time) differ from its canonical event"


async def _scan_entries(
    conn: ledger.AConn, result: Verification, progress: Progress | None, *, identities: bool
) -> _Scan:
    """Every entry hashed and its columns checked, in one pass over plain rows (a million
    of them: no object per row, no call that is not needed)."""
    scan = _Scan()
    leaves, add_leaf = scan.leaves, scan.leaves.append
    expected = 0
    total = await ledger.size(conn) if progress is not None else 0
    async for seq, source, event_id, type_, subject, time, canonical in ledger.stream_checked(conn):
        if seq != expected:
            result.add(
                "missing-entry",
                f"entries {expected}..{seq - 1}",
                "sequence numbers jump: entries were deleted",
            )
            # Placeholders keep later leaves at their own positions in the tree.
            leaves.extend(bytes(32) for _ in range(seq - expected))
        leaf = leaf_hash(canonical)
        add_leaf(leaf)
        if identities:  # only the comparison with Kafka needs them
            scan.identities[(source, event_id)] = (seq, leaf)
        if not _columns_agree(canonical, source, event_id, type_, subject, time):
            result.add("edited-entry", f"entry {seq}", _COLUMNS_DIFFER)
        expected = seq + 1
        if progress is not None and expected % 50_000 == 0:
            progress("entries", expected, total)
    return scan


def _columns_agree(
    canonical: bytes, source: str, event_id: str, type_: str, subject: str, time: dt.datetime
) -> bool:
    try:
        document = document_of(canonical)
        return bool(
            document.get("source") == source
            and document.get("id") == event_id
            and document.get("type") == type_
            and document.get("subject") == subject
            and dt.datetime.fromisoformat(document["time"]) == time
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


NODE_SPAN = 1 << 15  # nodes compared per query: ~1 MB of hashes, sorted within work_mem


async def _compare_nodes(
    conn: ledger.AConn, levels: list[list[bytes]], result: Verification
) -> None:
    """Stored nodes against recomputed ones; the lowest differing level names entries.

    Each span of a level is compared whole (count, every hash 32 bytes, the concatenation
    in id order equal to the recomputed one's); only a span that differs is read node by
    node to name what differs. Nodes outside every span are beyond the entries; a span
    holding fewer nodes than it should is missing some (extra nodes elsewhere do not hide it).
    """
    leaf_mismatch: dict[int, bytes] = {}
    differing: set[tuple[int, int]] = set()
    seen = 0
    spans = []
    for level, recomputed in enumerate(levels):
        for lo in range(0, len(recomputed), NODE_SPAN):
            hi = min(lo + NODE_SPAN, len(recomputed))
            first, stop = ledger.node_id(level, lo), ledger.node_id(level, hi)
            spans.append((first, stop))
            span = await ledger.node_span(conn, first, stop)
            seen += span.count
            if (
                span.count == hi - lo
                and span.shortest == span.longest == 32
                and span.hashes == b"".join(recomputed[lo:hi])
            ):
                continue
            for identifier, stored in await ledger.nodes_between(conn, first, stop):
                index = identifier & ledger.INDEX_MASK
                if stored == recomputed[index]:
                    continue
                differing.add((level, index))
                if level == 0:
                    leaf_mismatch[index] = stored
                elif {(level - 1, 2 * index), (level - 1, 2 * index + 1)} & differing:
                    continue  # an ancestor of a difference already named below it
                else:
                    first_entry, last_entry = index << level, ((index + 1) << level) - 1
                    result.add(
                        "tree-mismatch",
                        f"entries {first_entry}..{last_entry}",
                        f"stored node ({level}, {index}) differs from the recomputed one",
                    )
    async for identifier, _ in ledger.nodes_outside(conn, spans):
        level, index = identifier >> ledger.LEVEL_SHIFT, identifier & ledger.INDEX_MASK
        where = f"node ({level}, {index})" if identifier >= 0 else f"node id {identifier}"
        result.add("extra-node", where, "beyond the entries")
    _name_leaf_mismatches(leaf_mismatch, levels[0], result)
    complete = sum(len(level) for level in levels) if levels[0] else 0
    if seen < complete:
        result.add("missing-node", "tree", f"{complete - seen} stored Merkle nodes are missing")


def _name_leaf_mismatches(
    mismatch: dict[int, bytes], leaves: list[bytes], result: Verification
) -> None:
    """A swap shows as two entries each holding the other's stored hash."""
    by_stored = {digest: index for index, digest in mismatch.items()}
    reported: set[int] = set()
    for index in sorted(mismatch):
        if index in reported:
            continue
        other = by_stored.get(leaves[index])
        if other is not None and other != index and mismatch.get(index) == leaves[other]:
            result.add("swapped-entries", f"entries {index} and {other}", "each holds the other")
            reported.update((index, other))
        else:
            result.add("edited-entry", f"entry {index}", "its bytes differ from its stored hash")
            reported.add(index)


def _check_checkpoints(
    checkpoints: Iterable[Checkpoint],
    levels: list[list[bytes]],
    public_key: Ed25519PublicKey,
    result: Verification,
) -> list[Checkpoint]:
    size = len(levels[0])
    lookup = merkle.levels_lookup(levels)
    valid: dict[tuple[int, bytes, int], Checkpoint] = {}
    for checkpoint in checkpoints:
        name = f"checkpoint {checkpoint.number} (size {checkpoint.size})"
        if not verify_checkpoint(public_key, checkpoint):
            result.add("forged-checkpoint", name, "its signature does not verify with the key")
            continue
        valid.setdefault((checkpoint.number, checkpoint.root, checkpoint.size), checkpoint)
    ordered = sorted(valid.values(), key=lambda c: (c.size, c.number))
    result.checkpoints = len(ordered)
    for checkpoint in ordered:
        name = f"checkpoint {checkpoint.number} (size {checkpoint.size})"
        if checkpoint.size > size:
            result.add(
                "truncated",
                name,
                f"signed {checkpoint.size} entries, the ledger holds {size}: "
                f"entries {size}..{checkpoint.size - 1} are gone",
            )
        elif merkle.root(checkpoint.size, lookup) != checkpoint.root:
            result.add("root-mismatch", name, "the entries no longer hash to its signed root")
    for older, newer in itertools.pairwise(ordered):
        if newer.size > size:
            break
        proof = merkle.consistency_proof(older.size, newer.size, lookup)
        if not verify_consistency(older.size, newer.size, proof, older.root, newer.root):
            result.add(
                "inconsistent-checkpoints",
                f"checkpoints {older.number} (size {older.size}) and "
                f"{newer.number} (size {newer.size})",
                "the later tree does not extend the earlier one: history was rewritten",
            )
    return ordered


async def _published(kafka: str, topic: str) -> list[Checkpoint]:
    found = []
    async for record in read_to_end(kafka, [topic]):
        try:
            found.append(Checkpoint.from_json(json.loads(record.value or b"")))
        except (ValueError, KeyError, TypeError):
            continue
    return found


async def _compare_kafka(
    kafka: str,
    topics: Sequence[str],
    signed: Sequence[Checkpoint],
    scan: _Scan,
    result: Verification,
    progress: Progress | None,
) -> None:
    frontier: dict[str, int] = {}
    for checkpoint in signed:
        for where, offset in checkpoint.frontier.items():
            frontier[where] = max(offset, frontier.get(where, 0))

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress("kafka", done, total)

    async for record in read_to_end(kafka, topics, progress=report):
        if record.offset >= frontier.get(frontier_key(record.topic, record.partition), 0):
            continue  # not yet sealed when the newest signed checkpoint was cut
        result.kafka_records += 1
        where = f"{record.topic}:{record.partition}@{record.offset}"
        try:
            entry = entry_of(
                key=record.key,
                value=record.value,
                headers=record.headers,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
        except MalformedEventError:
            continue  # dead-lettered, never an entry
        found = scan.identities.get(entry.identity)
        if found is None:
            result.add("missing-from-ledger", where, f"event {entry.event_id} is not in the ledger")
        elif found[1] != leaf_hash(entry.canonical):
            result.add(
                "differs-from-kafka", f"entry {found[0]}", f"differs from the record at {where}"
            )
