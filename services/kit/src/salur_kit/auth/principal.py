"""Who is calling, and the small authorisation checks application layers make on them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from salur_kit.errors import ForbiddenError

# Kemendagri code prefixes: province, city, district, village (`32`, `32.73`, … `32.73.01.1001`).
_REGION_PREFIX = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")


class Role(StrEnum):
    bkm_operator = "bkm_operator"
    facilitator = "facilitator"
    partner_officer = "partner_officer"
    auditor = "auditor"
    agency = "agency"
    public = "public"


def is_region_prefix(value: str) -> bool:
    return bool(_REGION_PREFIX.match(value))


def _region_in_prefix(code: str, prefix: str) -> bool:
    # Whole segments only: `32.73` covers `32.73.01.1001` but not `32.730…`.
    return code == prefix or code.startswith(prefix + ".")


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    organisation_id: UUID | None = None  # the BKM of an operator, the partner of an officer
    region_prefix: str | None = None  # where a facilitator may act

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            wanted = " or ".join(role.value for role in roles)
            raise ForbiddenError(
                f"this action needs the role {wanted}; the caller is {self.role.value}",
                rule="role",
            )

    def require_bkm_operator_of(self, bkm_id: UUID) -> None:
        self.require_role(Role.bkm_operator)
        if self.organisation_id != bkm_id:
            raise ForbiddenError(
                f"this action needs an operator of BKM {bkm_id}", rule="own-organisation"
            )

    def require_partner_officer_of(self, partner_id: UUID) -> None:
        self.require_role(Role.partner_officer)
        if self.organisation_id != partner_id:
            raise ForbiddenError(
                f"this action needs an officer of partner {partner_id}", rule="own-organisation"
            )

    def require_facilitator_for(self, region_code: str) -> None:
        self.require_role(Role.facilitator)
        prefix = self.region_prefix
        if prefix is None or not _region_in_prefix(region_code, prefix):
            raise ForbiddenError(
                f"this action needs a facilitator for region {region_code}; "
                f"the caller covers {prefix or 'no region'}",
                rule="region",
            )
