"""The ledger on real Postgres: append-only by role and trigger, gapless, proofs that an
independent verifier accepts, and every kind of tampering found at random positions."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from salur_audit import ledger, merkle
from salur_audit import verify as verify_module
from salur_audit.signing import Signer, generate
from salur_audit.testing import Story, entries_of, writer_url
from salur_audit.verifier import Checkpoint, canonical_bytes, verify_entry
from salur_audit.verify import Verification, verify
from salur_audit.writer import LedgerWriter

pytestmark = pytest.mark.integration


@dataclass
class Built:
    owner_url: str
    writer_url: str
    signer: Signer
    checkpoints: list[Checkpoint]
    size: int


@pytest.fixture
async def built(fresh_database_url: str, tmp_path: Path) -> Built:
    """A ledger of ~130 entries sealed in five batches of uneven sizes."""
    url = writer_url(fresh_database_url)
    signer = generate(tmp_path / "key.pem")
    writer = LedgerWriter(url, signer)
    await writer.load()
    entries = entries_of(Story.of(22).events)
    cuts = [0, 1, 17, 64, 100, len(entries)]
    held = []
    for batch, (lo, hi) in enumerate(itertools.pairwise(cuts)):
        sealed = await writer.seal(entries[lo:hi], {"t:0": hi})
        assert sealed.checkpoint.number == batch + 1
        held.append(sealed.checkpoint)
    await writer.close()
    return Built(fresh_database_url, url, signer, held, len(entries))


async def _verify(
    conn: ledger.AConn, built: Built, external: list[Checkpoint] | None = None
) -> Verification:
    return await verify(conn, built.signer.public_key, external=external or [])


class Tampered:
    """An owner session that switched the triggers off: the attacker verify must catch."""

    def __init__(self, conn: ledger.AConn) -> None:
        self.conn = conn

    async def __aenter__(self) -> ledger.AConn:
        for table in ledger.TABLES:
            await self.conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        return self.conn

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.rollback()


async def _owner(built: Built) -> ledger.AConn:
    return await psycopg.AsyncConnection.connect(built.owner_url)


async def test_a_clean_ledger_verifies_with_no_finding(built: Built) -> None:
    async with await psycopg.AsyncConnection.connect(built.writer_url, autocommit=True) as conn:
        result = await _verify(conn, built, external=built.checkpoints)
        assert result.ok, result.findings
        assert result.size == built.size
        assert result.checkpoints == len(built.checkpoints)


async def test_sequence_numbers_are_gapless_and_nodes_match_an_in_memory_tree(built: Built) -> None:
    async with await psycopg.AsyncConnection.connect(built.writer_url, autocommit=True) as conn:
        stored = await ledger.entries(conn, 0, 1000)
        assert [e.seq for e in stored] == list(range(built.size))
        for checkpoint in built.checkpoints:
            assert await ledger.root(conn, checkpoint.size) == checkpoint.root


async def test_the_writer_role_may_not_update_delete_or_truncate(built: Built) -> None:
    async with await psycopg.AsyncConnection.connect(built.writer_url, autocommit=True) as conn:
        for statement in (
            "UPDATE audit_entries SET type = 'x' WHERE seq = 3",
            "DELETE FROM audit_entries WHERE seq = 3",
            "TRUNCATE audit_entries",
            "UPDATE audit_checkpoints SET size = 0",
            "DELETE FROM audit_nodes",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await conn.execute(statement)
        assert await ledger.size(conn) == built.size


async def test_triggers_refuse_changes_even_from_the_owner(built: Built) -> None:
    async with await psycopg.AsyncConnection.connect(built.owner_url, autocommit=True) as conn:
        for statement in (
            "UPDATE audit_entries SET type = 'x' WHERE seq = 3",
            "DELETE FROM audit_entries WHERE seq = 3",
            "TRUNCATE audit_entries",
            "TRUNCATE audit_checkpoints",
            "DELETE FROM audit_nodes WHERE id < 100",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                await conn.execute(statement)


async def test_the_migration_is_idempotent(built: Built) -> None:
    writer_url(built.owner_url)
    writer_url(built.owner_url)
    async with await psycopg.AsyncConnection.connect(built.writer_url, autocommit=True) as conn:
        assert await ledger.size(conn) == built.size


async def test_a_second_writer_cannot_extend_a_ledger_it_did_not_load(built: Built) -> None:
    first, second = (
        LedgerWriter(built.writer_url, built.signer),
        LedgerWriter(built.writer_url, built.signer),
    )
    await first.load()
    await second.load()
    extra = entries_of(Story.of(1, seed=9).events, topic="u")
    await first.seal(extra, {"u:0": len(extra)})
    with pytest.raises(ledger.ConcurrentWriterError):
        await second.seal(extra, {"u:0": len(extra)})
    await first.close()
    await second.close()


async def test_an_event_already_in_the_ledger_is_not_appended_again(built: Built) -> None:
    writer = LedgerWriter(built.writer_url, built.signer)
    await writer.load()
    again = entries_of(Story.of(22).events)[:5]
    sealed = await writer.seal([*again, *again], {"t:0": built.size + 10})
    assert (sealed.appended, sealed.duplicates) == (0, 10)
    assert sealed.checkpoint.size == built.size
    await writer.close()


async def test_every_inclusion_proof_verifies_with_only_the_public_key_and_entry(
    built: Built,
) -> None:
    async with await psycopg.AsyncConnection.connect(built.writer_url, autocommit=True) as conn:
        stored = await ledger.entries(conn, 0, 1000)
        for checkpoint in built.checkpoints:
            for entry in stored[: checkpoint.size]:
                proof = await ledger.inclusion_proof(conn, entry.seq, checkpoint.size)
                assert verify_entry(
                    built.signer.public_key, checkpoint, entry.canonical, entry.seq, proof
                )
                assert (
                    _independent_inclusion(entry.canonical, entry.seq, checkpoint.size, proof)
                    == checkpoint.root
                )
            forged = dataclasses.replace(checkpoint, size=checkpoint.size + 1)
            assert not verify_entry(built.signer.public_key, forged, stored[0].canonical, 0, proof)


def _independent_inclusion(entry: bytes, index: int, size: int, proof: list[bytes]) -> bytes:
    """RFC 9162 2.1.3.2 once more, written apart from the module under test."""
    h = hashlib.sha256(b"\x00" + entry).digest()
    fn, sn = index, size - 1
    for p in proof:
        if fn % 2 == 1 or fn == sn:
            h = hashlib.sha256(b"\x01" + p + h).digest()
            while fn % 2 == 0 and fn != 0:
                fn //= 2
                sn //= 2
        else:
            h = hashlib.sha256(b"\x01" + h + p).digest()
        fn //= 2
        sn //= 2
    assert sn == 0
    return h


async def test_consistency_proofs_between_every_pair_of_checkpoints_verify(built: Built) -> None:
    from salur_audit.verifier import verify_consistency

    async with await psycopg.AsyncConnection.connect(built.writer_url, autocommit=True) as conn:
        for older in built.checkpoints:
            for newer in built.checkpoints:
                if older.size <= newer.size:
                    proof = await ledger.consistency_proof(conn, older.size, newer.size)
                    assert verify_consistency(older.size, newer.size, proof, older.root, newer.root)


# -- tampering, each kind at many random positions -----------------------------------------

TRIALS = 12


def _kinds(result: Verification) -> set[str]:
    return {f.kind for f in result.findings}


async def test_an_edited_entry_is_found_and_named(built: Built) -> None:
    rng = random.Random(1)
    conn = await _owner(built)
    for _ in range(TRIALS):
        seq = rng.randrange(built.size)
        async with Tampered(conn):
            row = await (
                await conn.execute("SELECT canonical FROM audit_entries WHERE seq = %s", [seq])
            ).fetchone()
            assert row is not None
            document = json.loads(row[0])
            document["data"]["currency"] = "USD"
            await conn.execute(
                "UPDATE audit_entries SET canonical = %s WHERE seq = %s",
                [canonical_bytes(document), seq],
            )
            result = await _verify(conn, built)
            assert not result.ok
            assert any(
                f.kind == "edited-entry" and f.where == f"entry {seq}" for f in result.findings
            ), result.findings
    await conn.close()


async def test_an_edited_entry_with_its_tree_recomputed_fails_the_signed_roots(
    built: Built,
) -> None:
    rng = random.Random(2)
    conn = await _owner(built)
    for _ in range(TRIALS):
        seq = rng.randrange(built.size)
        async with Tampered(conn):
            await _rewrite(conn, seq)
            result = await _verify(conn, built)
            assert "root-mismatch" in _kinds(result)
            first_bad = min(c.number for c in built.checkpoints if c.size > seq)
            assert any(f.where.startswith(f"checkpoint {first_bad} ") for f in result.findings)
            assert all(
                not f.where.startswith(f"checkpoint {c.number} ")
                for f in result.findings
                for c in built.checkpoints
                if c.size <= seq
            )
    await conn.close()


def _lookup(nodes: dict[merkle.NodeKey, bytes]) -> merkle.Lookup:
    return lambda level, index: nodes[(level, index)]


async def _rewrite(conn: ledger.AConn, seq: int) -> None:
    """Edit entry `seq` and rebuild every stored node, as an attacker with the database would."""
    row = await (
        await conn.execute("SELECT canonical FROM audit_entries WHERE seq = %s", [seq])
    ).fetchone()
    assert row is not None
    document = json.loads(row[0])
    document["data"]["currency"] = "EUR"
    await conn.execute(
        "UPDATE audit_entries SET canonical = %s WHERE seq = %s", [canonical_bytes(document), seq]
    )
    rows = await (await conn.execute("SELECT canonical FROM audit_entries ORDER BY seq")).fetchall()
    compact = merkle.CompactRange()
    await conn.execute("DELETE FROM audit_nodes")
    for (canonical,) in rows:
        for level, index, digest in compact.append(bytes(canonical)):
            await conn.execute(
                "INSERT INTO audit_nodes VALUES (%s, %s)", [ledger.node_id(level, index), digest]
            )


async def test_a_deleted_entry_is_found_and_named(built: Built) -> None:
    rng = random.Random(3)
    conn = await _owner(built)
    for _ in range(TRIALS):
        seq = rng.randrange(built.size - 1)
        async with Tampered(conn):
            await conn.execute("DELETE FROM audit_entries WHERE seq = %s", [seq])
            result = await _verify(conn, built)
            assert any(
                f.kind == "missing-entry" and f.where == f"entries {seq}..{seq}"
                for f in result.findings
            )
    await conn.close()


async def test_two_swapped_entries_are_found_and_named(built: Built) -> None:
    rng = random.Random(4)
    conn = await _owner(built)
    for _ in range(TRIALS):
        i, j = sorted(rng.sample(range(built.size), 2))
        async with Tampered(conn):
            await conn.execute("ALTER TABLE audit_entries DROP CONSTRAINT audit_entries_seq_check")
            await conn.execute(
                "UPDATE audit_entries SET seq = -1 - seq WHERE seq IN (%s, %s)", [i, j]
            )
            await conn.execute("UPDATE audit_entries SET seq = %s WHERE seq = %s", [j, -1 - i])
            await conn.execute("UPDATE audit_entries SET seq = %s WHERE seq = %s", [i, -1 - j])
            result = await _verify(conn, built)
            assert any(
                f.kind == "swapped-entries" and f.where == f"entries {i} and {j}"
                for f in result.findings
            ), result.findings
    await conn.close()


async def test_a_truncated_tail_is_found_against_a_checkpoint_held_outside(built: Built) -> None:
    rng = random.Random(5)
    conn = await _owner(built)
    latest = built.checkpoints[-1]
    for _ in range(TRIALS):
        keep = rng.randrange(1, built.size)
        async with Tampered(conn):
            await conn.execute("DELETE FROM audit_entries WHERE seq >= %s", [keep])
            await conn.execute("DELETE FROM audit_checkpoints WHERE size > %s", [keep])
            inside = await _verify(conn, built)
            outside = await _verify(conn, built, external=[latest])
            assert any(
                f.kind == "truncated"
                and f.where == f"checkpoint {latest.number} (size {latest.size})"
                and f"entries {keep}..{built.size - 1} are gone" in f.detail
                for f in outside.findings
            ), outside.findings
            assert len(outside.findings) > len(inside.findings)
    await conn.close()


async def test_a_rewritten_and_resigned_history_fails_consistency_with_held_checkpoints(
    built: Built,
) -> None:
    rng = random.Random(6)
    conn = await _owner(built)
    for _ in range(TRIALS):
        seq = rng.randrange(built.size)
        async with Tampered(conn):
            await _rewrite(conn, seq)
            await conn.execute("DELETE FROM audit_checkpoints")
            lookup_rows = await (await conn.execute("SELECT id, hash FROM audit_nodes")).fetchall()
            nodes = {ledger.node_key(r[0]): bytes(r[1]) for r in lookup_rows}
            for old in built.checkpoints:
                new = built.signer.checkpoint(
                    number=old.number,
                    size=old.size,
                    root=merkle.root(old.size, _lookup(nodes)),
                    frontier=old.frontier,
                )
                await ledger.insert_checkpoint(conn, new)
            alone = await _verify(conn, built)
            assert alone.ok  # with the key and the database, a rewrite is self-consistent...
            held = await _verify(conn, built, external=built.checkpoints)
            kinds = _kinds(held)  # ...until it meets the copies outside parties hold
            assert "inconsistent-checkpoints" in kinds
            assert "root-mismatch" in kinds
            first_bad = min(c.number for c in built.checkpoints if c.size > seq)
            assert any(
                f.kind == "root-mismatch" and f.where.startswith(f"checkpoint {first_bad} ")
                for f in held.findings
            )
    await conn.close()


async def test_a_forged_checkpoint_signature_is_found_and_named(built: Built) -> None:
    rng = random.Random(7)
    conn = await _owner(built)
    stranger = Signer(Ed25519PrivateKey.generate())
    for _ in range(TRIALS):
        victim = rng.choice(built.checkpoints)
        async with Tampered(conn):
            await conn.execute(
                "UPDATE audit_checkpoints SET size = size - 1 WHERE number = %s", [victim.number]
            )
            result = await _verify(conn, built)
            assert any(
                f.kind == "forged-checkpoint" and f.where.startswith(f"checkpoint {victim.number} ")
                for f in result.findings
            )
        other = stranger.checkpoint(number=99, size=1, root=victim.root, frontier={})
        other = dataclasses.replace(other, key_id=built.signer.key_id)
        result = await _verify(conn, built, external=[other])
        assert [f.kind for f in result.findings] == ["forged-checkpoint"]
    await conn.close()


async def test_no_false_alarm_on_clean_ledgers_of_many_sizes(built: Built, tmp_path: Path) -> None:
    async with await psycopg.AsyncConnection.connect(built.writer_url, autocommit=True) as conn:
        for _ in range(3):
            result = await _verify(conn, built, external=built.checkpoints)
            assert result.ok, result.findings


async def test_an_entry_whose_bytes_are_no_longer_json_is_found_and_named(built: Built) -> None:
    conn = await _owner(built)
    async with Tampered(conn):
        await conn.execute("UPDATE audit_entries SET canonical = '\\xff7b'::bytea WHERE seq = 5")
        await conn.execute(
            "UPDATE audit_entries SET type = 'salur.registry.Other.v1' WHERE seq = 9"
        )
        result = await _verify(conn, built)
        named = {(f.kind, f.where) for f in result.findings}
        assert ("edited-entry", "entry 5") in named
        assert ("edited-entry", "entry 9") in named
    await conn.close()


async def test_stored_nodes_that_differ_are_found_in_whichever_span_they_lie(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verify compares nodes a span at a time; with spans of 8 every level has several, and
    an edited, short, swapped, missing or extra node is still named."""
    monkeypatch.setattr(verify_module, "NODE_SPAN", 8)
    conn = await _owner(built)
    assert (await _verify(conn, built)).ok
    leaf = {
        index: bytes(digest)
        for index, digest in await (
            await conn.execute(
                "SELECT id, hash FROM audit_nodes WHERE id = ANY(%s)",
                [[ledger.node_id(0, 3), ledger.node_id(0, 4)]],
            )
        ).fetchall()
    }
    async with Tampered(conn):
        edits = [
            (ledger.node_id(2, 5), bytes(32)),
            (ledger.node_id(0, 77), b"\x01" * 31),
            (ledger.node_id(0, 3), leaf[ledger.node_id(0, 4)]),
            (ledger.node_id(0, 4), leaf[ledger.node_id(0, 3)]),
        ]
        for identifier, digest in edits:
            await conn.execute(
                "UPDATE audit_nodes SET hash = %s WHERE id = %s", [digest, identifier]
            )
        await conn.execute("DELETE FROM audit_nodes WHERE id = %s", [ledger.node_id(1, 40)])
        for identifier in (ledger.node_id(0, built.size + 3), ledger.node_id(30, 0), -1):
            await conn.execute("INSERT INTO audit_nodes VALUES (%s, %s)", [identifier, bytes(32)])
        result = await _verify(conn, built)
        named = {(f.kind, f.where) for f in result.findings}
        assert ("tree-mismatch", "entries 20..23") in named, result.findings
        assert ("edited-entry", "entry 77") in named
        assert ("swapped-entries", "entries 3 and 4") in named
        assert ("extra-node", f"node (0, {built.size + 3})") in named
        assert ("extra-node", "node (30, 0)") in named
        assert sum(f.kind == "extra-node" for f in result.findings) == 3
        assert ("missing-node", "tree") in named
    await conn.close()
