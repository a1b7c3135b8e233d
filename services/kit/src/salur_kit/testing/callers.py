"""Authorization headers for each kind of caller, minted by a test's own dev issuer."""

from __future__ import annotations

import uuid

from salur_kit.auth import Role
from salur_kit.devtokens import DevIssuer


class Callers:
    def __init__(self, issuer: DevIssuer) -> None:
        self.issuer = issuer

    def facilitator(self, region: str = "32.73") -> dict[str, str]:
        return self._bearer(Role.facilitator, region=region)

    def operator(self, bkm_id: uuid.UUID | str) -> dict[str, str]:
        return self._bearer(Role.bkm_operator, org=uuid.UUID(str(bkm_id)))

    def officer(self, partner_id: uuid.UUID | str) -> dict[str, str]:
        return self._bearer(Role.partner_officer, org=uuid.UUID(str(partner_id)))

    def auditor(self) -> dict[str, str]:
        return self._bearer(Role.auditor)

    def _bearer(
        self, role: Role, org: uuid.UUID | None = None, region: str | None = None
    ) -> dict[str, str]:
        token = self.issuer.token(role=role, subject=f"{role.value}-test", org=org, region=region)
        return {"Authorization": f"Bearer {token}"}
