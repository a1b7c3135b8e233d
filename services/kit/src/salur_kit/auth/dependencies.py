"""FastAPI dependencies: deny by default (`current_principal`); public routes opt out
with `optional_principal`, which still refuses a token that is present but invalid."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from salur_kit.auth.principal import Principal
from salur_kit.auth.verifier import TokenVerifier
from salur_kit.errors import UnauthorizedError

# Declares the bearer scheme in OpenAPI; the header itself is parsed below so that a
# malformed header is a 401 with a reason rather than silently anonymous.
_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", description="Salur access token")


async def optional_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError(
            "the Authorization header must be 'Bearer <token>'", rule="invalid-token"
        )
    principal = await token_verifier(request).verify(token.strip())
    request.state.principal = principal
    return principal


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise UnauthorizedError("this endpoint needs a bearer token", rule="missing-token")
    return principal


def token_verifier(request: Request) -> TokenVerifier:
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("the app has no token verifier; build it with create_api")
    return verifier
