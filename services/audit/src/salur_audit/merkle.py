"""The RFC 6962 Merkle tree over ledger entries, kept as stored complete subtrees.

Node (level, index) is the hash of leaves [index * 2**level, (index + 1) * 2**level); it is
stored once complete and never changes. Every root, inclusion proof and consistency proof
of any tree size decomposes into O(log n) such nodes, so nothing is recomputed from leaves
per request. `needed` lists those nodes first, so a store fetches them in one query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from salur_audit.verifier import EMPTY_ROOT, leaf_hash, node_hash

NodeKey = tuple[int, int]
Lookup = Callable[[int, int], bytes]


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def range_hash(lo: int, hi: int, node: Lookup) -> bytes:
    """MTH of leaves [lo, hi): the ranges RFC 6962 splits into are always aligned."""
    size = hi - lo
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return node(level, lo >> level)
    k = _largest_power_of_two_below(size)
    return node_hash(range_hash(lo, lo + k, node), range_hash(lo + k, hi, node))


def root(size: int, node: Lookup) -> bytes:
    return EMPTY_ROOT if size == 0 else range_hash(0, size, node)


def inclusion_proof(index: int, size: int, node: Lookup) -> list[bytes]:
    """RFC 6962 PATH(index, D[0:size])."""
    if not 0 <= index < size:
        raise ValueError(f"entry {index} is not in a tree of size {size}")
    return _path(index, 0, size, node)


def _path(m: int, lo: int, hi: int, node: Lookup) -> list[bytes]:
    if hi - lo == 1:
        return []
    k = _largest_power_of_two_below(hi - lo)
    if m < k:
        return [*_path(m, lo, lo + k, node), range_hash(lo + k, hi, node)]
    return [*_path(m - k, lo + k, hi, node), range_hash(lo, lo + k, node)]


def consistency_proof(size1: int, size2: int, node: Lookup) -> list[bytes]:
    """RFC 6962 PROOF(size1, D[0:size2]); empty when one size is 0 or both are equal."""
    if not 0 <= size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    if size1 in (0, size2):
        return []
    return _subproof(size1, 0, size2, True, node)


def _subproof(m: int, lo: int, hi: int, complete: bool, node: Lookup) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if complete else [range_hash(lo, hi, node)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return [*_subproof(m, lo, lo + k, complete, node), range_hash(lo + k, hi, node)]
    return [*_subproof(m - k, lo + k, hi, False, node), range_hash(lo, lo + k, node)]


def needed(compute: Callable[[Lookup], object]) -> list[NodeKey]:
    """The stored nodes `compute` reads, found by running it on placeholder hashes."""
    keys: list[NodeKey] = []

    def record(level: int, index: int) -> bytes:
        keys.append((level, index))
        return bytes(32)

    compute(record)
    return sorted(set(keys))


@dataclass
class CompactRange:
    """The right edge of the tree: the complete subtrees of the current size, largest first.

    Appending a leaf merges equal-sized neighbours, returning every node that became
    complete so the caller stores it; the root of the current size folds the range.
    """

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    @classmethod
    def of(cls, size: int, node: Lookup) -> CompactRange:
        hashes, offset = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                hashes.append(node(level, offset >> level))
                offset += 1 << level
        return cls(size=size, hashes=hashes)

    @staticmethod
    def nodes_of(size: int) -> list[NodeKey]:
        return needed(lambda lookup: CompactRange.of(size, lookup))

    def append(self, entry: bytes) -> list[tuple[int, int, bytes]]:
        return self.append_hash(leaf_hash(entry))

    def append_hash(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        index = self.size
        created = [(0, index, leaf)]
        current, level = leaf, 0
        while index >> level & 1:
            current = node_hash(self.hashes.pop(), current)
            level += 1
            created.append((level, index >> level, current))
        self.hashes.append(current)
        self.size += 1
        return created

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        result = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            result = node_hash(left, result)
        return result


def build_levels(leaves: Iterable[bytes]) -> list[list[bytes]]:
    """Every complete-subtree hash, level by level, from leaf hashes (used by `verify`)."""
    levels: list[list[bytes]] = [list(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


def levels_lookup(levels: list[list[bytes]]) -> Lookup:
    return lambda level, index: levels[level][index]
