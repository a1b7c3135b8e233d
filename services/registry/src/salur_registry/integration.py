"""Registry domain events -> public integration events (the only place the two meet)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from salur_contracts import registry as contract
from salur_contracts.base import IntegrationEvent


def _bkm_registered(e: Any) -> IntegrationEvent:
    return contract.BkmRegistered(
        bkm_id=e.originator_id,
        name=e.name,
        region_code=e.region_code,
        address=e.address,
        legal_deed_number=e.legal_deed_number,
        founded_on=e.founded_on,
        status="registered",
    )


def _unit_added(e: Any) -> IntegrationEvent:
    return contract.BkmUnitAdded(
        bkm_id=e.originator_id, region_code=e.region_code, unit=e.unit, head_name=e.head_name
    )


def _unit_removed(e: Any) -> IntegrationEvent:
    return contract.BkmUnitRemoved(bkm_id=e.originator_id, region_code=e.region_code, unit=e.unit)


def _bank_account_changed(e: Any) -> IntegrationEvent:
    return contract.BkmBankAccountChanged(
        bkm_id=e.originator_id,
        region_code=e.region_code,
        bank_name=e.bank_name,
        account_number=e.account_number,
        account_holder=e.account_holder,
        confirmation="awaiting_confirmation",
    )


def _bank_account_confirmed(e: Any) -> IntegrationEvent:
    return contract.BkmBankAccountConfirmed(
        bkm_id=e.originator_id,
        region_code=e.region_code,
        account_number=e.account_number,
        confirmed_by=e.confirmed_by,
    )


def _bkm_verified(e: Any) -> IntegrationEvent:
    return contract.BkmVerified(
        bkm_id=e.originator_id, region_code=e.region_code, verified_by=e.verified_by
    )


def _bkm_suspended(e: Any) -> IntegrationEvent:
    return contract.BkmSuspended(
        bkm_id=e.originator_id,
        region_code=e.region_code,
        reason=e.reason,
        suspended_by=e.suspended_by,
    )


def _bkm_reinstated(e: Any) -> IntegrationEvent:
    return contract.BkmReinstated(
        bkm_id=e.originator_id,
        region_code=e.region_code,
        reason=e.reason,
        reinstated_by=e.reinstated_by,
    )


def _partner_registered(e: Any) -> IntegrationEvent:
    return contract.PartnerRegistered(
        partner_id=e.originator_id,
        kind=e.kind,
        name=e.name,
        contact_name=e.contact_name,
        contact_email=e.contact_email,
        contact_phone=e.contact_phone,
        regions_of_operation=list(e.regions_of_operation),
    )


def _partner_verified(e: Any) -> IntegrationEvent:
    return contract.PartnerVerified(partner_id=e.originator_id, verified_by=e.verified_by)


MAPPINGS: dict[str, Callable[[Any], IntegrationEvent]] = {
    "Bkm.Registered": _bkm_registered,
    "Bkm.UnitAdded": _unit_added,
    "Bkm.UnitRemoved": _unit_removed,
    "Bkm.BankAccountChanged": _bank_account_changed,
    "Bkm.BankAccountConfirmed": _bank_account_confirmed,
    "Bkm.Verified": _bkm_verified,
    "Bkm.Suspended": _bkm_suspended,
    "Bkm.Reinstated": _bkm_reinstated,
    "Partner.Registered": _partner_registered,
    "Partner.Verified": _partner_verified,
}


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    """Every registry domain event is public; an unmapped one is a programming error."""
    return MAPPINGS[type(domain_event).__qualname__](domain_event)
