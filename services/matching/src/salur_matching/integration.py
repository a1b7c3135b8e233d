"""Match domain events -> public integration events (the only place the two meet)."""

from __future__ import annotations

from typing import Any

from salur_contracts import matching as contract
from salur_contracts.base import IntegrationEvent
from salur_contracts.values import CURRENCY

from salur_matching.domain import Match


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    """Every match event is public; anything else in the store is a programming error."""
    pair = {
        "match_id": domain_event.originator_id,
        "activity_id": domain_event.activity_id,
        "plan_id": domain_event.plan_id,
        "bkm_id": domain_event.bkm_id,
        "opportunity_id": domain_event.opportunity_id,
        "partner_id": domain_event.partner_id,
    }
    if isinstance(domain_event, Match.Proposed):
        return contract.MatchProposed(
            **pair,
            aspect=domain_event.aspect,
            region_code=domain_event.region_code,
            amount_needed=domain_event.amount_needed,
            currency=CURRENCY,
            score=domain_event.score,
            rules_passed=list(domain_event.rules_passed),
            reasons=[contract.ScoreReason(**r) for r in domain_event.reasons],
        )
    if isinstance(domain_event, Match.Withdrawn):
        return contract.MatchWithdrawn(
            **pair,
            withdrawn_because=domain_event.withdrawn_because,
            explanation=domain_event.explanation,
        )
    raise TypeError(f"{type(domain_event).__qualname__} is not a match event")
