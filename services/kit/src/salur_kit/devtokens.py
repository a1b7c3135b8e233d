"""The development token issuer: a local Ed25519 key pair and a way to mint tokens.

Services in development trust `jwks.json` from the same directory (see
`TokenVerifier.from_settings`). Settings refuse this issuer outside development.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from salur_kit.auth.principal import Role, is_region_prefix
from salur_kit.settings import DEV_ISSUER

DEV_AUDIENCE = "salur"
DEFAULT_DIR = Path(".data/dev-issuer")
_PRIVATE_KEY = "private-key.pem"
_JWKS = "jwks.json"


@dataclass(frozen=True)
class DevIssuer:
    private_key: Ed25519PrivateKey
    kid: str
    jwks_path: Path

    def token(
        self,
        *,
        role: Role,
        subject: str,
        org: UUID | None = None,
        region: str | None = None,
        ttl_seconds: int = 3600,
    ) -> str:
        check_claims(role, org, region)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": DEV_ISSUER,
            "aud": DEV_AUDIENCE,
            "sub": subject,
            "role": role.value,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "jti": str(uuid.uuid4()),
        }
        if org is not None:
            claims["org"] = str(org)
        if region is not None:
            claims["region"] = region
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})


def check_claims(role: Role, org: UUID | None, region: str | None) -> None:
    """The same combination rules the verifier applies, so a minted token is usable."""
    if role in (Role.bkm_operator, Role.partner_officer) and org is None:
        raise ValueError(f"a {role.value} token needs --org (the organisation's uuid)")
    if role is Role.facilitator and (region is None or not is_region_prefix(region)):
        raise ValueError("a facilitator token needs --region, a prefix like 32.73")


def ensure_issuer(directory: Path = DEFAULT_DIR) -> DevIssuer:
    """Load the dev key pair, creating it on first use; safe if two processes race."""
    directory.mkdir(parents=True, exist_ok=True)
    key_path = directory / _PRIVATE_KEY
    if not key_path.exists():
        _create_private_key(key_path)
    loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{key_path} is not an Ed25519 private key")
    jwk = _public_jwk(loaded)
    jwks_path = directory / _JWKS
    document = json.dumps({"keys": [jwk]}, indent=2) + "\n"
    if not jwks_path.exists() or jwks_path.read_text() != document:
        _write_atomically(jwks_path, document.encode(), mode=0o644)
    return DevIssuer(private_key=loaded, kid=jwk["kid"], jwks_path=jwks_path)


def _create_private_key(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    try:
        # link() fails if another process won the race; its key is then the key.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink()


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _public_jwk(private_key: Ed25519PrivateKey) -> dict[str, str]:
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    x = _b64url(raw)
    # RFC 7638 thumbprint: the required members, sorted, no whitespace.
    thumbprint = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    kid = _b64url(hashlib.sha256(thumbprint.encode()).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}


# -- CLI: `salur dev …` ---------------------------------------------------------------


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = commands.add_parser("dev", help="development helpers (local token issuer)")
    dev_commands = dev.add_subparsers(dest="dev_command", required=True, metavar="COMMAND")

    jwks = dev_commands.add_parser(
        "jwks", help="create the dev issuer's keys if missing and print the JWKS path"
    )
    _add_dir(jwks)
    jwks.set_defaults(handler=_jwks_command, command_parser=jwks)

    token = dev_commands.add_parser(
        "token",
        help="print a signed dev access token",
        description=f"Mint a token from issuer {DEV_ISSUER} for audience {DEV_AUDIENCE}.",
    )
    token.add_argument("--role", required=True, choices=[role.value for role in Role])
    token.add_argument("--org", type=UUID, help="BKM or partner uuid (operators, officers)")
    token.add_argument("--region", help="region code prefix, e.g. 32.73 (facilitators)")
    token.add_argument("--sub", default=None, help="subject; defaults to dev-<role>")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    _add_dir(token)
    token.set_defaults(handler=_token_command, command_parser=token)


def _add_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help=f"key directory (default {DEFAULT_DIR})"
    )


def _jwks_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    print(ensure_issuer(args.dir).jwks_path)
    return 0


def _token_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    role = Role(args.role)
    if args.ttl <= 0:
        parser.error("--ttl must be positive")
    try:
        check_claims(role, args.org, args.region)
    except ValueError as error:
        parser.error(str(error))
    issuer = ensure_issuer(args.dir)
    subject = args.sub or f"dev-{role.value}"
    print(
        issuer.token(
            role=role, subject=subject, org=args.org, region=args.region, ttl_seconds=args.ttl
        )
    )
    return 0
