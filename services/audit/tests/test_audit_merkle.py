"""The Merkle tree against published RFC 6962 vectors and an independent reference.

Vectors copied from transparency-dev/merkle (Apache-2.0): `testonly/constants.go`
(LeafInputs, NodeHashes, RootHashes) and `proof/verify_test.go` (inclusionProofs with
1-based leaf numbers, consistencyProofs); the same values as certificate-transparency-go's
merkletree tests, computed with the RFC 6962 SHA-256 hasher.
"""

from __future__ import annotations

import hashlib
import random

import pytest
from salur_audit import merkle
from salur_audit.verifier import (
    EMPTY_ROOT,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (1-based leaf number, tree size, proof)
INCLUSION = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def _tree(entries: list[bytes]) -> tuple[merkle.CompactRange, dict[tuple[int, int], bytes]]:
    compact, stored = merkle.CompactRange(), {}
    for entry in entries:
        for level, index, digest in compact.append(entry):
            stored[(level, index)] = digest
    return compact, stored


def _lookup(stored: dict[tuple[int, int], bytes]) -> merkle.Lookup:
    return lambda level, index: stored[(level, index)]


# An independent reference: RFC 6962 section 2.1 written out over the leaf list itself.
def _mth(entries: list[bytes]) -> bytes:
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < len(entries):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(entries[:k]) + _mth(entries[k:])).digest()


def _reference_path(m: int, entries: list[bytes]) -> list[bytes]:
    if len(entries) <= 1:
        return []
    k = 1
    while k * 2 < len(entries):
        k *= 2
    if m < k:
        return [*_reference_path(m, entries[:k]), _mth(entries[k:])]
    return [*_reference_path(m - k, entries[k:]), _mth(entries[:k])]


def _reference_subproof(m: int, entries: list[bytes], complete: bool) -> list[bytes]:
    if m == len(entries):
        return [] if complete else [_mth(entries)]
    k = 1
    while k * 2 < len(entries):
        k *= 2
    if m <= k:
        return [*_reference_subproof(m, entries[:k], complete), _mth(entries[k:])]
    return [*_reference_subproof(m - k, entries[k:], False), _mth(entries[:k])]


def test_every_complete_subtree_matches_the_published_node_hashes() -> None:
    _, stored = _tree(LEAVES)
    for level, hashes in enumerate(NODE_HASHES):
        for index, expected in enumerate(hashes):
            assert stored[(level, index)].hex() == expected


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_the_root_of_every_size_matches_the_published_root(size: int) -> None:
    compact, stored = _tree(LEAVES[:size])
    assert compact.root().hex() == ROOTS[size]
    assert merkle.root(size, _lookup(_tree(LEAVES)[1])).hex() == ROOTS[size]
    assert merkle.CompactRange.of(size, _lookup(stored)).root().hex() == ROOTS[size]


def test_the_empty_tree_has_the_hash_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_the_published_vectors(
    leaf: int, size: int, proof: list[str]
) -> None:
    _, stored = _tree(LEAVES)
    made = merkle.inclusion_proof(leaf - 1, size, _lookup(stored))
    assert [p.hex() for p in made] == proof
    root = bytes.fromhex(ROOTS[size])
    assert verify_inclusion(leaf - 1, size, leaf_hash(LEAVES[leaf - 1]), made, root)


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY)
def test_consistency_proofs_match_the_published_vectors(
    size1: int, size2: int, proof: list[str]
) -> None:
    _, stored = _tree(LEAVES)
    made = merkle.consistency_proof(size1, size2, _lookup(stored))
    assert [p.hex() for p in made] == proof
    assert verify_consistency(
        size1, size2, made, bytes.fromhex(ROOTS[size1]), bytes.fromhex(ROOTS[size2])
    )


def test_proofs_agree_with_an_independent_reference_at_every_index_of_odd_sizes() -> None:
    entries = [f"entry-{i}".encode() for i in range(70)]
    _, stored = _tree(entries)
    node = _lookup(stored)
    for size in (1, 2, 3, 5, 7, 13, 31, 33, 64, 70):
        assert merkle.root(size, node) == _mth(entries[:size])
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, node)
            assert proof == _reference_path(index, entries[:size])
            assert verify_inclusion(
                index, size, leaf_hash(entries[index]), proof, _mth(entries[:size])
            )
        for size1 in range(1, size):
            proof = merkle.consistency_proof(size1, size, node)
            assert proof == _reference_subproof(size1, entries[:size], True)
            assert verify_consistency(
                size1, size, proof, _mth(entries[:size1]), _mth(entries[:size])
            )


def test_a_corrupted_proof_never_verifies() -> None:
    rng = random.Random(7)
    entries = [f"e{i}".encode() for i in range(41)]
    _, stored = _tree(entries)
    node = _lookup(stored)
    for _ in range(200):
        size = rng.randint(2, 41)
        index = rng.randrange(size)
        root = merkle.root(size, node)
        proof = merkle.inclusion_proof(index, size, node)
        leaf = leaf_hash(entries[index])
        assert verify_inclusion(index, size, leaf, proof, root)
        if proof:
            bad = list(proof)
            i = rng.randrange(len(bad))
            bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
            assert not verify_inclusion(index, size, leaf, bad, root)
            assert not verify_inclusion(index, size, leaf, proof[:-1], root)
            assert not verify_inclusion(index, size, leaf, [*proof, root], root)
        assert not verify_inclusion(index, size, leaf_hash(b"other"), proof, root)
        assert not verify_inclusion((index + 1) % size, size, leaf, proof, root) or size == 1
        size1 = rng.randint(1, size - 1)
        consistency = merkle.consistency_proof(size1, size, node)
        root1 = merkle.root(size1, node)
        assert verify_consistency(size1, size, consistency, root1, root)
        assert not verify_consistency(size1, size, consistency, root, root1)
        assert not verify_consistency(size1, size, consistency[:-1], root1, root)


def test_the_nodes_a_proof_needs_are_few_and_known_before_reading() -> None:
    keys = merkle.needed(lambda node: merkle.inclusion_proof(123_456, 1_000_000, node))
    assert len(keys) <= 2 * 20
    assert all(level < 20 for level, _ in keys)
