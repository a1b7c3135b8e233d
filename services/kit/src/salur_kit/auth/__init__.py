"""Authentication (bearer JWTs against a JWKS) and the caller's identity."""

from salur_kit.auth.dependencies import current_principal, optional_principal
from salur_kit.auth.principal import Principal, Role
from salur_kit.auth.verifier import DEFAULT_ALGORITHMS, TokenVerifier

__all__ = [
    "DEFAULT_ALGORITHMS",
    "Principal",
    "Role",
    "TokenVerifier",
    "current_principal",
    "optional_principal",
]
