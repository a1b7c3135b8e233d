"""Registry domain events -> public integration events (the only place the two meet)."""

from __future__ import annotations

from typing import Any

from salur_contracts import registry as contract
from salur_contracts.base import IntegrationEvent
from salur_kit.integration import Mapping, copied

MAPPINGS: dict[str, Mapping] = {
    "Bkm.Registered": copied(contract.BkmRegistered, status="registered"),
    "Bkm.UnitAdded": copied(contract.BkmUnitAdded),
    "Bkm.UnitRemoved": copied(contract.BkmUnitRemoved),
    # Every new account waits for a facilitator (verification confirms the first one).
    "Bkm.BankAccountChanged": copied(
        contract.BkmBankAccountChanged, confirmation="awaiting_confirmation"
    ),
    "Bkm.BankAccountConfirmed": copied(contract.BkmBankAccountConfirmed),
    "Bkm.Verified": copied(contract.BkmVerified),
    "Bkm.Suspended": copied(contract.BkmSuspended),
    "Bkm.Reinstated": copied(contract.BkmReinstated),
    "Partner.Registered": copied(
        contract.PartnerRegistered,
        regions_of_operation=lambda e: list(e.regions_of_operation),
    ),
    "Partner.Verified": copied(contract.PartnerVerified),
}


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    """Every registry domain event is public; an unmapped one is a programming error."""
    return MAPPINGS[type(domain_event).__qualname__](domain_event)
