"""What partnerships knows from other services' events, as aggregates of its own.

Each mirrors one aggregate of another service (same id) and changes only when that
service's events arrive through the tracked consumer. Commands read them to check rules
(a verified BKM, an open opportunity with envelope left) without calling anyone.

`KnownOpportunity` is also written by partnerships itself: signing reserves the amount
until opportunities' `EnvelopeCommitted` for that agreement comes back (see ADR 0012).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from salur_contracts.values import region_in_prefix
from salur_kit.errors import RuleViolationError

from salur_partnerships.money import ZERO, MoneyRuleError


class StandingError(RuleViolationError):
    """A party or an opportunity that is not in a state to take part."""


class KnownBkm(Aggregate):
    """A BKM as registry reports it: name, region, status and the account funds go to."""

    @event("Learned")
    def __init__(self, id: UUID, region_code: str) -> None:
        self.region_code = region_code
        self.name: str | None = None
        self.status = "registered"
        self.status_before_suspension = "registered"
        self.account_number: str | None = None
        self.account_confirmed = False

    def follow(self, changes: dict[str, Any]) -> None:
        """Record what a registry event changed; nothing when it changed nothing."""
        if changes.get("status") == "reinstated":
            changes = {**changes, "status": self.status_before_suspension}
        changed = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changed:
            self._followed(changes=changed)

    @event("Followed")
    def _followed(self, changes: dict[str, Any]) -> None:
        if changes.get("status") == "suspended":
            self.status_before_suspension = self.status
        for name, value in changes.items():
            setattr(self, name, value)

    def require_verified(self, action: str) -> None:
        if self.status != "verified":
            raise StandingError(
                f"only a verified BKM can {action}; this one is {self.status}",
                field="bkm_id",
                rule="bkm-verified",
            )

    def confirmed_account(self, action: str) -> str:
        """The account funds may go to, or why none may."""
        self.require_verified(action)
        if self.account_number is None or not self.account_confirmed:
            raise StandingError(
                f"cannot {action}: the BKM's bank account awaits a facilitator's confirmation",
                field="bkm_id",
                rule="bank-account-confirmed",
            )
        return self.account_number


class KnownPartner(Aggregate):
    """A partner as registry reports it (its name and kind go into the IATI events)."""

    @event("Learned")
    def __init__(self, id: UUID, name: str, kind: str) -> None:
        self.name = name
        self.kind = kind
        self.status = "registered"

    @event("Verified")
    def verified(self) -> None:
        self.status = "verified"


class KnownPlan(Aggregate):
    """A BKM's plan as planning reports it: its activities and which are open for channelling."""

    @event("Learned")
    def __init__(self, id: UUID, bkm_id: UUID) -> None:
        self.bkm_id = bkm_id
        self.activities: dict[UUID, dict[str, Any]] = {}

    @event("ActivityDescribed")
    def describe(self, activity_id: UUID, description: dict[str, Any]) -> None:
        """Title, aspect, kind, location, cost and, once opened, the amount needed."""
        current = self.activities.get(activity_id, {"open": False})
        self.activities[activity_id] = {**current, **description}

    def activity(self, activity_id: UUID) -> dict[str, Any]:
        found = self.activities.get(activity_id)
        if found is None or "aspect" not in found:
            raise StandingError(
                f"activity {activity_id} is not in plan {self.id} as planning reported it",
                field="activity_id",
                rule="activity-known",
            )
        return found

    def open_activity(self, activity_id: UUID) -> dict[str, Any]:
        found = self.activity(activity_id)
        if not found["open"]:
            raise StandingError(
                "the activity is not open for channelling",
                field="activity_id",
                rule="activity-open-for-channelling",
            )
        return found


class KnownMatch(Aggregate):
    """A match matching proposed between an activity and an opportunity."""

    @event("Learned")
    def __init__(
        self, id: UUID, activity_id: UUID, plan_id: UUID, opportunity_id: UUID, bkm_id: UUID
    ) -> None:
        self.activity_id = activity_id
        self.plan_id = plan_id
        self.opportunity_id = opportunity_id
        self.bkm_id = bkm_id
        self.withdrawn = False

    @event("Withdrawn")
    def withdraw(self) -> None:
        self.withdrawn = True

    @event("Reproposed")
    def repropose(self) -> None:
        self.withdrawn = False


class KnownOpportunity(Aggregate):
    """An opportunity as opportunities reports it, plus partnerships' own reservations.

    `committed` and `envelope` are opportunities' running totals; `reserved` holds the
    agreements partnerships signed against it that opportunities has not yet reported as
    committed. What can still be signed is the envelope minus both.
    """

    @event("Learned")
    def __init__(self, id: UUID, partner_id: UUID) -> None:
        self.partner_id = partner_id
        self.status = "draft"
        self.terms: dict[str, Any] = {}
        self.envelope = ZERO
        self.committed = ZERO
        # Keyed by the agreement id as text, so a snapshot of this aggregate is plain JSON.
        self.reserved: dict[str, Decimal] = {}

    @event("TermsSet")
    def set_terms(self, terms: dict[str, Any], envelope: Decimal) -> None:
        self.terms = terms
        self.envelope = envelope
        self.status = "open"

    @event("Ended")
    def end(self, status: str) -> None:
        self.status = status

    def follow_envelope(self, agreement_id: UUID, envelope: Decimal, committed: Decimal) -> None:
        """Opportunities' running totals; a committed agreement is no longer reserved here."""
        self._envelope_moved(agreement_id=agreement_id, envelope=envelope, committed=committed)

    @event("EnvelopeMoved")
    def _envelope_moved(self, agreement_id: UUID, envelope: Decimal, committed: Decimal) -> None:
        self.envelope = envelope
        self.committed = committed
        self.reserved.pop(str(agreement_id), None)

    @property
    def available(self) -> Decimal:
        return self.envelope - self.committed - sum(self.reserved.values(), ZERO)

    def require_open(self) -> None:
        if self.status != "open":
            raise StandingError(
                f"the opportunity is {self.status}, not open for proposals",
                field="opportunity_id",
                rule="opportunity-open",
            )

    def require_fits(self, *, amount: Decimal, aspect: str, kind: str, region_code: str) -> None:
        """The proposal fits the terms: amount range, aspect, kind and region."""
        t = self.terms
        if not t["min_amount"] <= amount <= t["max_amount"]:
            raise MoneyRuleError(
                f"the opportunity funds between {t['min_amount']} and {t['max_amount']} per "
                f"activity, not {amount}",
                field="amount_requested",
                rule="amount-within-opportunity-range",
            )
        if aspect not in t["aspects"] or kind not in t["activity_kinds"]:
            raise StandingError(
                f"the opportunity does not fund {aspect} activities of kind {kind}",
                field="activity_id",
                rule="activity-eligible",
            )
        if not any(region_in_prefix(region_code, p) for p in t["eligible_regions"]):
            raise StandingError(
                f"region {region_code} is outside the opportunity's eligible regions",
                field="activity_id",
                rule="region-eligible",
            )

    def reserve(self, agreement_id: UUID, amount: Decimal) -> None:
        """Hold `amount` for a signed agreement, or refuse when the envelope cannot take it."""
        self.require_envelope(amount)
        self._reserved(agreement_id=agreement_id, amount=amount)

    def require_envelope(self, amount: Decimal) -> None:
        if amount > self.available:
            raise MoneyRuleError(
                f"the opportunity's remaining envelope {self.available} (after agreements "
                f"signed but not yet committed) is smaller than the amount {amount}",
                field="amount",
                rule="envelope-remaining",
            )

    @event("Reserved")
    def _reserved(self, agreement_id: UUID, amount: Decimal) -> None:
        self.reserved[str(agreement_id)] = amount
