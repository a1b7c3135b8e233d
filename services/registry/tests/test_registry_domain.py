"""BKM and partner rules, in memory."""

from __future__ import annotations

import datetime as dt
from uuid import uuid4

import pytest
from salur_kit.errors import RuleViolationError
from salur_registry.domain import Bkm, Partner

pytestmark = pytest.mark.unit


def a_bkm() -> Bkm:
    return Bkm(
        id=uuid4(),
        name="BKM Sejahtera",
        region_code="32.73.01.1001",
        address="Jl. Merdeka 1",
        legal_deed_number="AHU-1",
        founded_on=dt.date(2008, 5, 1),
        registered_by="fac-1",
    )


def a_verified_bkm() -> Bkm:
    bkm = a_bkm()
    bkm.change_bank_account("BRI", "0123456789", "BKM Sejahtera")
    bkm.verify("fac-1")
    return bkm


class TestUnits:
    def test_adds_and_removes_units(self) -> None:
        bkm = a_bkm()
        bkm.add_unit("UPK", "Siti")
        bkm.add_unit("UPL", "Budi")
        bkm.remove_unit("UPK")
        assert bkm.units == {"UPL": "Budi"}

    def test_refuses_a_unit_twice(self) -> None:
        bkm = a_bkm()
        bkm.add_unit("UPK", "Siti")
        with pytest.raises(RuleViolationError, match="already exists"):
            bkm.add_unit("UPK", "Ani")

    def test_refuses_to_remove_a_unit_it_does_not_have(self) -> None:
        with pytest.raises(RuleViolationError, match="does not exist"):
            a_bkm().remove_unit("UPS")


class TestVerification:
    def test_refuses_to_verify_without_a_bank_account(self) -> None:
        with pytest.raises(RuleViolationError, match="needs a bank account") as error:
            a_bkm().verify("fac-1")
        assert error.value.rule == "bank-account-required"

    def test_verification_confirms_the_bank_account(self) -> None:
        bkm = a_verified_bkm()
        assert bkm.status == "verified"
        assert bkm.bank_account is not None
        assert bkm.bank_account["confirmation"] == "confirmed"
        names = [type(e).__name__ for e in bkm.collect_events()]
        assert names[-2:] == ["Verified", "BankAccountConfirmed"]

    def test_refuses_to_verify_twice(self) -> None:
        with pytest.raises(RuleViolationError, match="only a registered BKM"):
            a_verified_bkm().verify("fac-2")


class TestBankAccount:
    def test_changing_the_account_of_a_verified_bkm_awaits_confirmation(self) -> None:
        bkm = a_verified_bkm()
        bkm.change_bank_account("BNI", "9876543210", "BKM Sejahtera")
        assert bkm.status == "verified"
        assert bkm.bank_account is not None
        assert bkm.bank_account["confirmation"] == "awaiting_confirmation"
        bkm.confirm_bank_account("fac-1")
        assert bkm.bank_account["confirmation"] == "confirmed"

    def test_refuses_to_confirm_an_account_already_confirmed(self) -> None:
        with pytest.raises(RuleViolationError, match="already confirmed"):
            a_verified_bkm().confirm_bank_account("fac-1")

    def test_refuses_to_set_the_same_account_again(self) -> None:
        with pytest.raises(RuleViolationError, match="already this one"):
            a_verified_bkm().change_bank_account("BRI", "0123456789", "BKM Sejahtera")


class TestSuspension:
    def test_suspends_and_reinstates_to_the_previous_status(self) -> None:
        bkm = a_verified_bkm()
        bkm.suspend("dana tidak dilaporkan", "fac-1")
        assert bkm.status == "suspended"
        bkm.reinstate("laporan diterima", "fac-1")
        assert bkm.status == "verified"

    def test_a_suspended_bkm_cannot_change_its_account(self) -> None:
        bkm = a_verified_bkm()
        bkm.suspend("audit", "fac-1")
        with pytest.raises(RuleViolationError, match="suspended"):
            bkm.change_bank_account("BNI", "555555", "X")

    def test_refuses_to_reinstate_a_bkm_that_is_not_suspended(self) -> None:
        with pytest.raises(RuleViolationError, match="only a suspended"):
            a_bkm().reinstate("no", "fac-1")


class TestPartner:
    def test_a_partner_is_verified_once(self) -> None:
        partner = Partner(
            id=uuid4(),
            kind="company_csr",
            name="PT Maju",
            contact_name="Ani",
            contact_email="ani@maju.co.id",
            contact_phone="+62 21 555",
            regions_of_operation=("32.73",),
            registered_by="officer",
        )
        partner.verify("fac-1")
        assert partner.status == "verified"
        with pytest.raises(RuleViolationError):
            partner.verify("fac-1")
