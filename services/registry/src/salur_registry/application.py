"""Registry use cases: one method each, load -> authorise -> change -> save."""

from __future__ import annotations

import datetime as dt
from uuid import UUID, uuid4

from salur_contracts.values import region_in_prefix
from salur_kit.auth import Principal, Role
from salur_kit.errors import ConflictError, ForbiddenError
from salur_kit.eventstore import ServiceApplication

from salur_registry.domain import Bkm, Partner


class RegistryApplication(ServiceApplication):
    name = "registry"

    # -- BKM ---------------------------------------------------------------------------

    def register_bkm(
        self,
        principal: Principal,
        *,
        bkm_id: UUID | None,
        name: str,
        region_code: str,
        address: str,
        legal_deed_number: str,
        founded_on: dt.date,
    ) -> Bkm:
        """A facilitator registers a BKM of their region; an operator registers their own."""
        if principal.role is Role.bkm_operator:
            if bkm_id is None or principal.organisation_id != bkm_id:
                raise ForbiddenError(
                    "a BKM operator registers only their own BKM: send bkm_id equal to "
                    "the organisation in your token",
                    field="bkm_id",
                    rule="own-bkm-only",
                )
        else:
            principal.require_facilitator_for(region_code)
        if bkm_id is None:
            # A fresh uuid4 is new by construction; only an id the caller chose can clash.
            bkm_id = uuid4()
        else:
            self._refuse_existing(bkm_id, "BKM")
        bkm = Bkm(
            id=bkm_id,
            name=name,
            region_code=region_code,
            address=address,
            legal_deed_number=legal_deed_number,
            founded_on=founded_on,
            registered_by=principal.subject,
        )
        self.save_or_conflict(bkm)
        return bkm

    def add_unit(
        self, principal: Principal, bkm_id: UUID, unit: str, head_name: str, expected: int | None
    ) -> Bkm:
        bkm = self._bkm_for_operator(principal, bkm_id, expected)
        bkm.add_unit(unit, head_name)
        self.save_or_conflict(bkm)
        return bkm

    def remove_unit(
        self, principal: Principal, bkm_id: UUID, unit: str, expected: int | None
    ) -> Bkm:
        bkm = self._bkm_for_operator(principal, bkm_id, expected)
        bkm.remove_unit(unit)
        self.save_or_conflict(bkm)
        return bkm

    def change_bank_account(
        self,
        principal: Principal,
        bkm_id: UUID,
        *,
        bank_name: str,
        account_number: str,
        account_holder: str,
        expected: int | None,
    ) -> Bkm:
        bkm = self._bkm_for_operator(principal, bkm_id, expected)
        bkm.change_bank_account(bank_name, account_number, account_holder)
        self.save_or_conflict(bkm)
        return bkm

    def confirm_bank_account(self, principal: Principal, bkm_id: UUID, expected: int | None) -> Bkm:
        bkm = self._bkm_for_facilitator(principal, bkm_id, expected)
        bkm.confirm_bank_account(principal.subject)
        self.save_or_conflict(bkm)
        return bkm

    def verify_bkm(self, principal: Principal, bkm_id: UUID, expected: int | None) -> Bkm:
        bkm = self._bkm_for_facilitator(principal, bkm_id, expected)
        bkm.verify(principal.subject)
        self.save_or_conflict(bkm)
        return bkm

    def suspend_bkm(
        self, principal: Principal, bkm_id: UUID, reason: str, expected: int | None
    ) -> Bkm:
        bkm = self._bkm_for_facilitator(principal, bkm_id, expected)
        bkm.suspend(reason, principal.subject)
        self.save_or_conflict(bkm)
        return bkm

    def reinstate_bkm(
        self, principal: Principal, bkm_id: UUID, reason: str, expected: int | None
    ) -> Bkm:
        bkm = self._bkm_for_facilitator(principal, bkm_id, expected)
        bkm.reinstate(reason, principal.subject)
        self.save_or_conflict(bkm)
        return bkm

    def get_bkm(self, bkm_id: UUID) -> Bkm:
        return self.load(Bkm, bkm_id, "BKM")

    # -- partners ----------------------------------------------------------------------

    def register_partner(
        self,
        principal: Principal,
        *,
        partner_id: UUID | None,
        kind: str,
        name: str,
        contact_name: str,
        contact_email: str,
        contact_phone: str,
        regions_of_operation: tuple[str, ...],
    ) -> Partner:
        """A partner officer registers their own partner; a facilitator any in their region."""
        if principal.role is Role.partner_officer:
            if partner_id is None or principal.organisation_id != partner_id:
                raise ForbiddenError(
                    "a partner officer registers only their own partner: send partner_id "
                    "equal to the organisation in your token",
                    field="partner_id",
                    rule="own-partner-only",
                )
        else:
            principal.require_role(Role.facilitator)
            _require_overlap(principal, regions_of_operation)
        if partner_id is None:
            partner_id = uuid4()  # new by construction, as for a BKM
        else:
            self._refuse_existing(partner_id, "partner")
        partner = Partner(
            id=partner_id,
            kind=kind,
            name=name,
            contact_name=contact_name,
            contact_email=contact_email,
            contact_phone=contact_phone,
            regions_of_operation=regions_of_operation,
            registered_by=principal.subject,
        )
        self.save_or_conflict(partner)
        return partner

    def verify_partner(
        self, principal: Principal, partner_id: UUID, expected: int | None
    ) -> Partner:
        principal.require_role(Role.facilitator)
        partner = self.load(Partner, partner_id, "partner")
        _require_overlap(principal, partner.regions_of_operation)
        self.check_version(partner, expected)
        partner.verify(principal.subject)
        self.save_or_conflict(partner)
        return partner

    def get_partner(self, partner_id: UUID) -> Partner:
        return self.load(Partner, partner_id, "partner")

    # -- guards ------------------------------------------------------------------------

    def _bkm_for_operator(self, principal: Principal, bkm_id: UUID, expected: int | None) -> Bkm:
        principal.require_bkm_operator_of(bkm_id)
        bkm = self.get_bkm(bkm_id)
        self.check_version(bkm, expected)
        return bkm

    def _bkm_for_facilitator(self, principal: Principal, bkm_id: UUID, expected: int | None) -> Bkm:
        bkm = self.get_bkm(bkm_id)
        principal.require_facilitator_for(bkm.region_code)
        self.check_version(bkm, expected)
        return bkm

    def _refuse_existing(self, aggregate_id: UUID, what: str) -> None:
        if aggregate_id in self.repository:
            raise ConflictError(
                f"{what} {aggregate_id} is already registered", field="id", rule="unique-id"
            )


def _require_overlap(principal: Principal, regions: tuple[str, ...]) -> None:
    """A facilitator acts on a partner that operates somewhere inside their region."""
    principal.require_role(Role.facilitator)
    prefix = principal.region_prefix or ""
    if not any(region_in_prefix(r, prefix) or region_in_prefix(prefix, r) for r in regions):
        raise ForbiddenError(
            f"the partner operates in {', '.join(regions)}, outside your region {prefix}",
            rule="facilitator-region",
        )
