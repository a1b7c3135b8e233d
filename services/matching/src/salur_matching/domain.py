"""Matching's own domain events: a match proposed, a match withdrawn.

A match is the pair (activity, opportunity) under the id `salur_contracts.matching.match_id`
derives from it. Its state is kept by the engine (memory) and the `matching_match` table,
so its events are written directly at the next version rather than by loading an aggregate
per pair: one event (say, a new opportunity) may change hundreds of matches at once.
The relay publishes them as `MatchProposed` / `MatchWithdrawn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEvent
from salur_contracts.matching import match_id

from salur_matching.engine import Proposal, Transition, Withdrawal
from salur_matching.facts import Activity, Opportunity, from_cents
from salur_matching.rules import RULE_NAMES


class Match:
    """Namespace of the match events (their stored topic reads `Match.Proposed`)."""

    @dataclass(frozen=True)
    class Proposed(DomainEvent):
        activity_id: UUID
        plan_id: UUID
        bkm_id: UUID
        opportunity_id: UUID
        partner_id: UUID
        aspect: str
        region_code: str
        amount_needed: Decimal
        score: int
        rules_passed: tuple[str, ...]
        reasons: tuple[dict[str, Any], ...]

    @dataclass(frozen=True)
    class Withdrawn(DomainEvent):
        activity_id: UUID
        plan_id: UUID
        bkm_id: UUID
        opportunity_id: UUID
        partner_id: UUID
        withdrawn_because: str
        explanation: str


def _pair(a: Activity, o: Opportunity, version: int) -> dict[str, Any]:
    return {
        "originator_id": match_id(a.activity_id, o.opportunity_id),
        "originator_version": version,
        "timestamp": DomainEvent.create_timestamp(),
        "activity_id": a.activity_id,
        "plan_id": a.plan_id,
        "bkm_id": a.bkm_id,
        "opportunity_id": o.opportunity_id,
        "partner_id": o.partner_id,
    }


def event_for(transition: Transition) -> DomainEvent:
    """The stored event of one decided transition."""
    a, o = transition.activity, transition.opportunity
    if isinstance(transition, Proposal):
        return Match.Proposed(
            **_pair(a, o, transition.version),
            aspect=a.aspect,
            region_code=a.region_code,
            amount_needed=from_cents(a.outstanding),
            score=transition.score,
            rules_passed=RULE_NAMES,
            reasons=tuple(r._asdict() for r in transition.reasons),
        )
    assert isinstance(transition, Withdrawal)
    return Match.Withdrawn(
        **_pair(a, o, transition.version),
        withdrawn_because=transition.because,
        explanation=transition.explanation,
    )
