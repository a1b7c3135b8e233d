"""Everything an outside auditor needs to check the ledger, with no server dependency.

Only `cryptography`, `rfc8785` and the standard library are imported, so an agency can copy
this one module: given the ledger's public key, a signed checkpoint, an entry's canonical
bytes and its inclusion proof, it decides whether the entry is in the log the key signed.

Hashing is RFC 6962/9162: leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right).
The proof checks follow RFC 9162 sections 2.1.3.2 and 2.1.4.2.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EMPTY_ROOT = hashlib.sha256(b"").digest()
LOG_ORIGIN = "salur.audit.v1"


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def canonical_bytes(document: Mapping[str, Any], *, plain: bool = False) -> bytes:
    """RFC 8785 (JCS) bytes of a JSON object: the form every entry is hashed in.

    Without floats, with ASCII keys and integers inside I-JSON's range, JCS is exactly
    Python's sorted compact dump (same key order, string escapes and integers), which is
    many times faster than the general serializer; anything else takes the general path.
    `plain=True` says the caller already knows this (it learnt it while parsing), which
    saves the walk over the document.
    """
    if plain or _plain(document):
        try:
            return _dump(document).encode()
        except UnicodeEncodeError:  # a lone surrogate: let the general path refuse it
            pass
    return rfc8785.dumps(dict(document))


# One encoder built once (json.dumps with options builds one per call).
_dump = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_MAX_INTEGER = 2**53 - 1


def _plain(value: object) -> bool:
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_MAX_INTEGER <= value <= _MAX_INTEGER
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and k.isascii() and _plain(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    return False


def root_from_inclusion_proof(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes | None:
    """The root a proof leads to, or None when the proof cannot be a path of that shape."""
    if index < 0 or index >= size:
        return None
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if len(sibling) != 32 or sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return result if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    return root_from_inclusion_proof(index, size, leaf, proof) == root


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    """Whether the tree of `size2` with `root2` extends the tree of `size1` with `root1`."""
    if size1 < 0 or size2 < size1 or any(len(item) != 32 for item in proof):
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first = second = path[0]
    for item in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first, second = node_hash(item, first), node_hash(item, second)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            second = node_hash(second, item)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and first == root1 and second == root2


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name for a key: the first 16 hex digits of SHA-256 of its raw bytes."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(raw_base64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(raw_base64))


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the log had `size` entries with this root at `time`.

    `frontier` names, per source topic partition, the next offset the ledger had not yet
    read when the checkpoint was cut; it lets a rebuild from Kafka cut the same batches.
    """

    number: int
    size: int
    root: bytes
    time: dt.datetime
    key_id: str
    frontier: Mapping[str, int] = field(default_factory=dict)
    signature: bytes = b""
    origin: str = LOG_ORIGIN

    def body(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "number": self.number,
            "size": self.size,
            "root": self.root.hex(),
            "time": self.time.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "key_id": self.key_id,
            "frontier": dict(sorted(self.frontier.items())),
        }

    def signed_bytes(self) -> bytes:
        return canonical_bytes(self.body())

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "signature": base64.b64encode(self.signature).decode()}

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Checkpoint:
        """Parse a checkpoint as published; raises ValueError/KeyError/TypeError when malformed."""
        frontier = document.get("frontier", {})
        if not isinstance(frontier, dict):
            raise ValueError("frontier must be an object")
        return cls(
            origin=str(document["origin"]),
            number=int(document["number"]),
            size=int(document["size"]),
            root=bytes.fromhex(str(document["root"])),
            time=dt.datetime.fromisoformat(str(document["time"])),
            key_id=str(document["key_id"]),
            frontier={str(k): int(v) for k, v in frontier.items()},
            signature=base64.b64decode(str(document["signature"])),
        )


def verify_checkpoint(public_key: Ed25519PublicKey, checkpoint: Checkpoint) -> bool:
    try:
        public_key.verify(checkpoint.signature, checkpoint.signed_bytes())
    except InvalidSignature:
        return False
    return checkpoint.key_id == key_id(public_key)


def verify_entry(
    public_key: Ed25519PublicKey,
    checkpoint: Checkpoint,
    entry: bytes,
    index: int,
    proof: Sequence[bytes],
) -> bool:
    """Whether `entry` is entry `index` of the log the key signed in `checkpoint`."""
    if not verify_checkpoint(public_key, checkpoint):
        return False
    return verify_inclusion(index, checkpoint.size, leaf_hash(entry), proof, checkpoint.root)
