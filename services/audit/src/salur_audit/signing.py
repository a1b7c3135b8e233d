"""The ledger's Ed25519 signing key and the checkpoints it signs."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from salur_audit.verifier import Checkpoint, key_id


class SigningKeyError(RuntimeError):
    pass


@dataclass(frozen=True)
class Signer:
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def public_key_base64(self) -> str:
        raw = self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def checkpoint(
        self,
        *,
        number: int,
        size: int,
        root: bytes,
        frontier: Mapping[str, int],
        time: dt.datetime | None = None,
    ) -> Checkpoint:
        # Signed at whole microseconds in UTC: the form Postgres stores, so a stored
        # checkpoint re-serialises to the very bytes that were signed.
        unsigned = Checkpoint(
            number=number,
            size=size,
            root=root,
            time=(time or dt.datetime.now(dt.UTC)).astimezone(dt.UTC),
            key_id=self.key_id,
            frontier=dict(frontier),
        )
        signature = self.private_key.sign(unsigned.signed_bytes())
        return dataclasses.replace(unsigned, signature=signature)


def generate(path: Path) -> Signer:
    """A new key written to `path` (mode 0600); development only."""
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return Signer(key)


def load(path: Path) -> Signer:
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as error:
        raise SigningKeyError(f"cannot read the ledger signing key {path}: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 private key")
    return Signer(key)


def load_or_generate(path: Path, *, development: bool) -> Signer:
    if path.exists():
        return load(path)
    if not development:
        raise SigningKeyError(f"the ledger signing key {path} does not exist")
    try:
        return generate(path)
    except FileExistsError:  # another process generated it first
        return load(path)
