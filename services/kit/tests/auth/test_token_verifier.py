from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from salur_kit.auth import Principal, Role, TokenVerifier
from salur_kit.devtokens import DEV_AUDIENCE, DevIssuer, ensure_issuer
from salur_kit.errors import UnauthorizedError
from salur_kit.settings import DEV_ISSUER

pytestmark = pytest.mark.unit
ORG = uuid4()


@pytest.fixture
def issuer(tmp_path: Path) -> DevIssuer:
    return ensure_issuer(tmp_path)


@pytest.fixture
def verifier(issuer: DevIssuer) -> TokenVerifier:
    return TokenVerifier(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, jwks_path=issuer.jwks_path)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": "ani",
        "role": "bkm_operator",
        "org": str(ORG),
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(issuer: DevIssuer, payload: dict[str, Any], key: Any = None, alg: str = "EdDSA") -> str:
    return jwt.encode(
        payload, key or issuer.private_key, algorithm=alg, headers={"kid": issuer.kid}
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_a_valid_token_becomes_a_principal(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    principal = await verifier.verify(sign(issuer, claims()))
    assert principal == Principal("ani", Role.bkm_operator, ORG, None)


async def test_a_facilitator_token_carries_the_region_prefix(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    token = issuer.token(role=Role.facilitator, subject="fas", region="32.73")
    principal = await verifier.verify(token)
    assert (principal.role, principal.region_prefix) == (Role.facilitator, "32.73")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (claims(exp=int(time.time()) - 120), "token expired"),
        (claims(nbf=int(time.time()) + 600), "not yet valid"),
        (claims(iss="https://evil.example"), "wrong issuer"),
        (claims(aud="other"), "wrong audience"),
        (claims(exp=None), "missing claim exp"),
        (claims(sub=None), "missing claim sub"),
        (claims(role=None), "unknown role"),
        (claims(role="admin"), "unknown role 'admin'"),
        (claims(org=None), "'org' uuid"),
        (claims(org="not-a-uuid"), "'org' uuid"),
        (claims(role="partner_officer", org=None), "'org' uuid"),
        (claims(role="facilitator", org=None), "'region'"),
        (claims(role="facilitator", region="32.7"), "'region'"),
    ],
)
async def test_a_token_with_bad_claims_is_refused_with_the_reason(
    issuer: DevIssuer, verifier: TokenVerifier, payload: dict[str, Any], reason: str
) -> None:
    with pytest.raises(UnauthorizedError, match=reason):
        await verifier.verify(sign(issuer, payload))


async def test_a_token_signed_by_another_key_has_a_bad_signature(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    forged = sign(issuer, claims(), key=Ed25519PrivateKey.generate())
    with pytest.raises(UnauthorizedError, match="bad signature"):
        await verifier.verify(forged)


async def test_an_unsigned_token_is_refused(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    header = b64(json.dumps({"alg": "none", "kid": issuer.kid}).encode())
    token = f"{header}.{b64(json.dumps(claims()).encode())}."
    with pytest.raises(UnauthorizedError, match="'none' is not accepted"):
        await verifier.verify(token)


async def test_hs256_with_the_public_key_as_secret_is_refused(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    public_jwk = json.loads(issuer.jwks_path.read_text())["keys"][0]
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims()).encode())}"
    secret = public_jwk["x"].encode()
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(UnauthorizedError, match="'HS256' is not accepted"):
        await verifier.verify(f"{signing_input}.{b64(signature)}")


async def test_an_allowed_algorithm_that_does_not_match_the_key_is_refused(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    token = sign(issuer, claims(), key=generate_private_key(SECP256R1()), alg="ES256")
    with pytest.raises(UnauthorizedError, match="does not match"):
        await verifier.verify(token)


async def test_garbage_is_a_malformed_token(verifier: TokenVerifier) -> None:
    with pytest.raises(UnauthorizedError, match="malformed"):
        await verifier.verify("not.a.jwt")


async def test_an_unknown_key_id_is_refused(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    token = jwt.encode(claims(), issuer.private_key, algorithm="EdDSA", headers={"kid": "other"})
    with pytest.raises(UnauthorizedError, match="unknown signing key"):
        await verifier.verify(token)


async def test_a_rotated_key_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    old = ensure_issuer(tmp_path / "old")
    new = ensure_issuer(tmp_path / "new")
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(old.jwks_path.read_bytes())
    verifier = TokenVerifier(
        issuer=DEV_ISSUER, audience=DEV_AUDIENCE, jwks_path=jwks, min_refresh_seconds=0
    )
    await verifier.verify(old.token(role=Role.auditor, subject="a"))
    jwks.write_bytes(new.jwks_path.read_bytes())
    principal = await verifier.verify(new.token(role=Role.auditor, subject="b"))
    assert principal.subject == "b"


async def test_the_jwks_can_come_from_an_https_url(issuer: DevIssuer) -> None:
    document = json.loads(issuer.jwks_path.read_text())
    requested: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(200, json=document)

    verifier = TokenVerifier(
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        jwks_url="https://issuer.example/jwks.json",
        http_transport=httpx.MockTransport(answer),
    )
    await verifier.verify(issuer.token(role=Role.agency, subject="donor"))
    await verifier.verify(issuer.token(role=Role.agency, subject="donor"))
    assert requested == ["https://issuer.example/jwks.json"]


@pytest.mark.parametrize("algorithms", [["HS256"], ["none"], []])
def test_a_verifier_refuses_to_trust_shared_secret_or_no_algorithms(
    issuer: DevIssuer, algorithms: list[str]
) -> None:
    with pytest.raises(ValueError, match="refusing"):
        TokenVerifier(
            issuer=DEV_ISSUER,
            audience=DEV_AUDIENCE,
            jwks_path=issuer.jwks_path,
            algorithms=algorithms,
        )
