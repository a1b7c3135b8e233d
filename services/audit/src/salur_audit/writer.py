"""Sealing a batch: its new entries, their Merkle nodes and a signed checkpoint, in one
transaction, so the ledger, its tree and the frontier it has read never disagree."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import psycopg

from salur_audit import ledger, merkle
from salur_audit.canonical import Entry
from salur_audit.signing import Signer
from salur_audit.verifier import Checkpoint

log = logging.getLogger(__name__)


@dataclass
class Sealed:
    checkpoint: Checkpoint
    appended: int
    duplicates: int
    adopted: bool


@dataclass
class LedgerWriter:
    """The one writer of a ledger; `load` before the first seal, and after a conflict."""

    writer_url: str
    signer: Signer
    compact: merkle.CompactRange = field(default_factory=merkle.CompactRange)
    last: Checkpoint | None = None
    _conn: ledger.AConn | None = None

    @property
    def number(self) -> int:
        return self.last.number if self.last else 0

    @property
    def frontier(self) -> dict[str, int]:
        return dict(self.last.frontier) if self.last else {}

    async def connection(self) -> ledger.AConn:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self.writer_url, autocommit=True)
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def load(self) -> None:
        conn = await self.connection()
        async with conn.transaction():
            self.last = await ledger.latest_checkpoint(conn)
            self.compact = await ledger.compact_range(conn, await ledger.size(conn))

    async def seal(
        self,
        batch: Sequence[Entry],
        frontier: Mapping[str, int],
        *,
        adopt: Checkpoint | None = None,
    ) -> Sealed:
        """Append `batch` (skipping events already in the ledger) and sign the new head.

        `adopt` is a published checkpoint a rebuild expects to reach; when the new head
        matches it, it is stored as it was signed instead of a new signature.
        """
        conn = await self.connection()
        compact = merkle.CompactRange(self.compact.size, list(self.compact.hashes))
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", [ledger.WRITER_LOCK])
            latest = await ledger.latest_checkpoint(conn)
            if (latest.number if latest else 0) != self.number:
                raise ledger.ConcurrentWriterError(
                    f"checkpoint {latest.number if latest else 0} was written by another writer"
                )
            fresh = _without_repeats(batch, await ledger.known_identities(conn, batch))
            created = [node for item in fresh for node in compact.append(item.canonical)]
            await ledger.copy_entries(conn, self.compact.size, fresh)
            await ledger.copy_nodes(conn, created)
            checkpoint = self._head(compact, frontier, adopt)
            await ledger.insert_checkpoint(conn, checkpoint)
            adopted = checkpoint is adopt
            if adopted:
                await ledger.mark_published(conn, checkpoint.number)
        self.compact, self.last = compact, checkpoint
        return Sealed(checkpoint, len(fresh), len(batch) - len(fresh), adopted)

    def _head(
        self, compact: merkle.CompactRange, frontier: Mapping[str, int], adopt: Checkpoint | None
    ) -> Checkpoint:
        root = compact.root()
        number = self.number + 1
        if adopt is not None:
            if (adopt.number, adopt.size, adopt.root) == (number, compact.size, root):
                return adopt
            log.error(
                "rebuild diverges from a published checkpoint",
                extra={
                    "fields": {
                        "checkpoint": adopt.number,
                        "published_size": adopt.size,
                        "rebuilt_size": compact.size,
                    }
                },
            )
        return self.signer.checkpoint(
            number=number, size=compact.size, root=root, frontier=frontier
        )


def _without_repeats(batch: Sequence[Entry], known: set[tuple[str, str]]) -> list[Entry]:
    fresh, seen = [], set(known)
    for item in batch:
        if item.identity not in seen:
            seen.add(item.identity)
            fresh.append(item)
    return fresh
