"""Registry aggregates: BKMs (community boards) and funding partners.

Rules live here as small named guards; values arrive already validated in shape
(region codes, account digits) by the contracts' types at the edge.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from salur_kit.errors import RuleViolationError


class BkmStateError(RuleViolationError):
    """A BKM command that its current status does not allow."""


class UnitError(RuleViolationError):
    pass


class Bkm(Aggregate):
    """A community board (Badan Keswadayaan Masyarakat) of one kelurahan.

    Every event carries the BKM's region code, so the integration events made from them
    can be filtered by region without the consumer keeping state.
    """

    @event("Registered")
    def __init__(
        self,
        id: UUID,
        name: str,
        region_code: str,
        address: str,
        legal_deed_number: str,
        founded_on: dt.date,
        registered_by: str,
    ) -> None:
        self.name = name
        self.region_code = region_code
        self.address = address
        self.legal_deed_number = legal_deed_number
        self.founded_on = founded_on
        self.registered_by = registered_by
        self.status = "registered"
        self.status_before_suspension = "registered"
        self.units: dict[str, str] = {}
        self.bank_account: dict[str, Any] | None = None

    # -- units -------------------------------------------------------------------------

    def add_unit(self, unit: str, head_name: str) -> None:
        if unit in self.units:
            raise UnitError(f"unit {unit} already exists", field="unit", rule="unit-unique")
        self._unit_added(unit=unit, head_name=head_name, region_code=self.region_code)

    @event("UnitAdded")
    def _unit_added(self, unit: str, head_name: str, region_code: str) -> None:
        self.units[unit] = head_name

    def remove_unit(self, unit: str) -> None:
        if unit not in self.units:
            raise UnitError(f"unit {unit} does not exist", field="unit", rule="unit-exists")
        self._unit_removed(unit=unit, region_code=self.region_code)

    @event("UnitRemoved")
    def _unit_removed(self, unit: str, region_code: str) -> None:
        del self.units[unit]

    # -- bank account ------------------------------------------------------------------

    def change_bank_account(self, bank_name: str, account_number: str, holder: str) -> None:
        """Any new account waits for a facilitator: funds go only to a confirmed account."""
        self._guard_not_suspended("change the bank account of")
        current = self.bank_account
        if current is not None and (
            current["bank_name"],
            current["account_number"],
            current["account_holder"],
        ) == (bank_name, account_number, holder):
            raise BkmStateError(
                "the bank account is already this one", field="account_number", rule="no-change"
            )
        self._bank_account_changed(
            bank_name=bank_name,
            account_number=account_number,
            account_holder=holder,
            region_code=self.region_code,
        )

    @event("BankAccountChanged")
    def _bank_account_changed(
        self, bank_name: str, account_number: str, account_holder: str, region_code: str
    ) -> None:
        self.bank_account = {
            "bank_name": bank_name,
            "account_number": account_number,
            "account_holder": account_holder,
            "confirmation": "awaiting_confirmation",
        }

    def confirm_bank_account(self, confirmed_by: str) -> None:
        if self.bank_account is None:
            raise BkmStateError("the BKM has no bank account", rule="bank-account-required")
        if self.bank_account["confirmation"] == "confirmed":
            raise BkmStateError(
                "the bank account is already confirmed", rule="bank-account-awaiting-confirmation"
            )
        self._bank_account_confirmed(
            confirmed_by=confirmed_by,
            account_number=self.bank_account["account_number"],
            region_code=self.region_code,
        )

    @event("BankAccountConfirmed")
    def _bank_account_confirmed(
        self, confirmed_by: str, account_number: str, region_code: str
    ) -> None:
        assert self.bank_account is not None
        self.bank_account = {**self.bank_account, "confirmation": "confirmed"}

    # -- status ------------------------------------------------------------------------

    def verify(self, verified_by: str) -> None:
        """Verification also confirms the account the BKM registered for funds."""
        if self.status != "registered":
            raise BkmStateError(
                f"only a registered BKM can be verified; this one is {self.status}",
                rule="status-transition",
            )
        if self.bank_account is None:
            raise BkmStateError(
                "a BKM needs a bank account before it can be verified",
                field="bank_account",
                rule="bank-account-required",
            )
        self._verified(verified_by=verified_by, region_code=self.region_code)
        if self.bank_account["confirmation"] != "confirmed":
            self._bank_account_confirmed(
                confirmed_by=verified_by,
                account_number=self.bank_account["account_number"],
                region_code=self.region_code,
            )

    @event("Verified")
    def _verified(self, verified_by: str, region_code: str) -> None:
        self.status = "verified"

    def suspend(self, reason: str, suspended_by: str) -> None:
        self._guard_not_suspended("suspend")
        self._suspended(reason=reason, suspended_by=suspended_by, region_code=self.region_code)

    @event("Suspended")
    def _suspended(self, reason: str, suspended_by: str, region_code: str) -> None:
        self.status_before_suspension = self.status
        self.status = "suspended"

    def reinstate(self, reason: str, reinstated_by: str) -> None:
        if self.status != "suspended":
            raise BkmStateError(
                f"only a suspended BKM can be reinstated; this one is {self.status}",
                rule="status-transition",
            )
        self._reinstated(reason=reason, reinstated_by=reinstated_by, region_code=self.region_code)

    @event("Reinstated")
    def _reinstated(self, reason: str, reinstated_by: str, region_code: str) -> None:
        self.status = self.status_before_suspension

    def _guard_not_suspended(self, action: str) -> None:
        if self.status == "suspended":
            raise BkmStateError(f"cannot {action} a suspended BKM", rule="status-transition")


class Partner(Aggregate):
    """A party that funds activities: a local government office, a company's CSR, a bank…"""

    @event("Registered")
    def __init__(
        self,
        id: UUID,
        kind: str,
        name: str,
        contact_name: str,
        contact_email: str,
        contact_phone: str,
        regions_of_operation: tuple[str, ...],
        registered_by: str,
    ) -> None:
        self.kind = kind
        self.name = name
        self.contact_name = contact_name
        self.contact_email = contact_email
        self.contact_phone = contact_phone
        self.regions_of_operation = tuple(regions_of_operation)
        self.registered_by = registered_by
        self.status = "registered"

    def verify(self, verified_by: str) -> None:
        if self.status != "registered":
            raise RuleViolationError(
                f"only a registered partner can be verified; this one is {self.status}",
                rule="status-transition",
            )
        self._verified(verified_by=verified_by)

    @event("Verified")
    def _verified(self, verified_by: str) -> None:
        self.status = "verified"
