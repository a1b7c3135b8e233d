"""Verifies bearer JWTs against the issuer's JWKS and turns their claims into a Principal.

Algorithms are pinned (never `none`, never HS*: a shared-secret algorithm would let anyone
holding the public key mint tokens). Keys are cached and reloaded when a token names an
unknown `kid`, so key rotation at the issuer needs no restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx
import jwt

from salur_kit.auth.principal import Principal, Role, is_region_prefix
from salur_kit.errors import UnauthorizedError

if TYPE_CHECKING:
    from salur_kit.settings import ServiceSettings

log = logging.getLogger(__name__)

DEFAULT_ALGORITHMS: tuple[str, ...] = ("EdDSA", "ES256", "RS256")
_ORGANISATION_ROLES = (Role.bkm_operator, Role.partner_officer)


_CACHE_SIZE = 4096


def _invalid(reason: str) -> UnauthorizedError:
    return UnauthorizedError(f"invalid bearer token: {reason}", rule="invalid-token")


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_path: Path | None = None,
        jwks_url: str | None = None,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        leeway_seconds: float = 30.0,
        min_refresh_seconds: float = 30.0,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if (jwks_path is None) == (jwks_url is None):
            raise ValueError("give exactly one of jwks_path or jwks_url")
        if jwks_url is not None and not jwks_url.startswith("https://"):
            raise ValueError("jwks_url must be an https URL")
        unsafe = [
            alg for alg in algorithms if alg.lower() == "none" or alg.upper().startswith("HS")
        ]
        if unsafe or not algorithms:
            raise ValueError(f"refusing token algorithms {unsafe or 'none given'}")
        self.issuer = issuer
        self.audience = audience
        self._jwks_path = jwks_path
        self._jwks_url = jwks_url
        self._algorithms = tuple(algorithms)
        self._leeway = leeway_seconds
        self._min_refresh = min_refresh_seconds
        self._transport = http_transport
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()
        # Verified tokens until they expire: a client sends the same token with every
        # request, and checking its signature each time is the costliest part of auth.
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenVerifier:
        jwks_path = settings.jwks_path
        if jwks_path is None and settings.jwks_url is None:
            # Settings refuse this outside development; locally, trust the dev issuer.
            from salur_kit.devtokens import DEFAULT_DIR, ensure_issuer

            jwks_path = ensure_issuer(DEFAULT_DIR).jwks_path
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            jwks_path=jwks_path,
            jwks_url=settings.jwks_url if jwks_path is None else None,
        )

    async def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        principal, expires_at = await self._verify(token)
        self._verified[token] = (principal, expires_at)
        if len(self._verified) > _CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _invalid("malformed token") from None
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise _invalid(f"algorithm {algorithm!r} is not accepted")
        key = await self._key_for(header.get("kid"))
        if key.algorithm_name != algorithm:
            raise _invalid(f"algorithm {algorithm} does not match the signing key")
        claims = self._decode(token, key, algorithm)
        return _principal_from(claims), float(claims["exp"])

    def _decode(self, token: str, key: jwt.PyJWK, algorithm: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise _invalid("token expired") from None
        except jwt.ImmatureSignatureError:
            raise _invalid("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise _invalid("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise _invalid("wrong issuer") from None
        except jwt.InvalidSignatureError:
            raise _invalid("bad signature") from None
        except jwt.MissingRequiredClaimError as error:
            raise _invalid(f"missing claim {error.claim}") from None
        except jwt.InvalidTokenError as error:
            raise _invalid(type(error).__name__) from None
        return claims

    async def _key_for(self, kid: object) -> jwt.PyJWK:
        key = self._lookup(kid)
        if key is None:
            await self._refresh()
            key = self._lookup(kid)
        if key is None:
            raise _invalid(f"unknown signing key {kid!r}")
        return key

    def _lookup(self, kid: object) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid) if isinstance(kid, str) else None

    async def _refresh(self) -> None:
        async with self._lock:
            now = time.monotonic()
            # Tokens with made-up kids must not turn into a stream of JWKS fetches.
            if self._loaded_at is not None and now - self._loaded_at < self._min_refresh:
                return
            self._loaded_at = now
            try:
                document = await self._fetch()
            except (OSError, ValueError, httpx.HTTPError):
                log.exception("could not load the JWKS")
                return
            self._keys = _parse_jwks(document)

    async def _fetch(self) -> Mapping[str, Any]:
        if self._jwks_path is not None:
            loaded: Mapping[str, Any] = json.loads(self._jwks_path.read_bytes())
            return loaded
        assert self._jwks_url is not None
        async with httpx.AsyncClient(transport=self._transport, timeout=5.0) as client:
            response = await client.get(self._jwks_url)
            response.raise_for_status()
            fetched: Mapping[str, Any] = response.json()
            return fetched


def _parse_jwks(document: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    for index, jwk in enumerate(document.get("keys", [])):
        try:
            key = jwt.PyJWK(jwk)
        except jwt.PyJWTError:
            log.warning("skipping an unusable JWKS key", extra={"fields": {"index": index}})
            continue
        keys[str(jwk.get("kid", index))] = key
    return keys


def _principal_from(claims: Mapping[str, Any]) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise _invalid("empty subject")
    try:
        role = Role(str(claims.get("role")))
    except ValueError:
        raise _invalid(f"unknown role {claims.get('role')!r}") from None
    organisation_id: UUID | None = None
    if role in _ORGANISATION_ROLES:
        try:
            organisation_id = UUID(str(claims["org"]))
        except (KeyError, ValueError):
            raise _invalid(f"a {role.value} token needs an 'org' uuid claim") from None
    region: str | None = None
    if role is Role.facilitator:
        region = claims.get("region")
        if not isinstance(region, str) or not is_region_prefix(region):
            raise _invalid("a facilitator token needs a 'region' prefix claim like 32.73")
    return Principal(subject, role, organisation_id, region)
