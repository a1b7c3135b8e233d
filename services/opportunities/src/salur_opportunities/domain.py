"""Opportunities aggregates: funding opportunities partners offer and their envelopes, and
the partners opportunities knows from registry's events.

Rules live here as small named guards; values arrive already validated in shape (region
prefixes, aspects, kinds, money as Decimal with two places) by the contracts' types at the
edge.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event
from salur_contracts.values import region_in_prefix
from salur_kit.errors import RuleViolationError

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
ONE_DAY = dt.timedelta(days=1)


class TermsError(RuleViolationError):
    """Terms of an opportunity that break a rule (dates, amounts, budget code)."""


class OpportunityStateError(RuleViolationError):
    """A command the opportunity's current status does not allow."""


class EnvelopeError(RuleViolationError):
    """A movement of the envelope against its rules (over-commitment, unknown agreement)."""


# -- values ----------------------------------------------------------------------------------


def _ordered(values: Iterable[str]) -> tuple[str, ...]:
    # Sets in meaning: a repeated aspect or prefix says nothing more, and a stable order
    # makes two revisions with the same terms compare equal.
    return tuple(sorted(set(values)))


@dataclass(frozen=True)
class Terms:
    """What a partner offers, as one revision states it."""

    title: str
    description: str
    source_kind: str
    budget_code: str | None
    aspects: tuple[str, ...]
    activity_kinds: tuple[str, ...]
    eligible_regions: tuple[str, ...]
    min_amount: Decimal
    max_amount: Decimal
    envelope: Decimal
    required_swadaya_percent: Decimal
    open_date: dt.date
    close_date: dt.date
    requirements: str

    def normalised(self) -> Terms:
        return dataclasses.replace(
            self,
            aspects=_ordered(self.aspects),
            activity_kinds=_ordered(self.activity_kinds),
            eligible_regions=_ordered(self.eligible_regions),
        )

    def state(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Terms:
        return cls(
            **{
                **state,
                "aspects": tuple(state["aspects"]),
                "activity_kinds": tuple(state["activity_kinds"]),
                "eligible_regions": tuple(state["eligible_regions"]),
            }
        )

    def covers(self, region_code: str) -> bool:
        return any(region_in_prefix(region_code, prefix) for prefix in self.eligible_regions)


def check_terms(terms: Terms) -> Terms:
    """The terms, normalised, or the first rule they break."""
    if terms.close_date < terms.open_date:
        raise TermsError(
            f"the close date {terms.close_date} is before the open date {terms.open_date}",
            field="close_date",
            rule="close-not-before-open",
        )
    for name in ("min_amount", "max_amount", "envelope"):
        if getattr(terms, name) <= 0:
            raise TermsError(f"{name} must be greater than zero", field=name, rule="positive-money")
    if terms.min_amount > terms.max_amount:
        raise TermsError(
            f"the smallest amount {terms.min_amount} is above the largest {terms.max_amount}",
            field="min_amount",
            rule="min-not-above-max",
        )
    if terms.max_amount > terms.envelope:
        raise TermsError(
            f"the largest amount per activity {terms.max_amount} is above the envelope "
            f"{terms.envelope}",
            field="max_amount",
            rule="max-within-envelope",
        )
    if not ZERO <= terms.required_swadaya_percent <= HUNDRED:
        raise TermsError(
            "the required self-help share must be between 0 and 100 percent",
            field="required_swadaya_percent",
            rule="percentage",
        )
    if (terms.source_kind == "apbd") != (terms.budget_code is not None):
        raise TermsError(
            "an APBD opportunity names its programme/activity code, and only an APBD one does",
            field="budget_code",
            rule="budget-code-for-apbd",
        )
    for prefix in terms.eligible_regions:
        try:
            region_in_prefix(prefix, prefix)
        except ValueError as error:
            raise TermsError(str(error), field="eligible_regions", rule="region-prefix") from None
    if not (terms.aspects and terms.activity_kinds and terms.eligible_regions):
        raise TermsError(
            "name at least one aspect, one activity kind and one region",
            field="aspects",
            rule="non-empty",
        )
    return terms.normalised()


@dataclass(frozen=True)
class Revision:
    """One published revision of the terms, kept so earlier revisions stay visible."""

    number: int
    terms: Terms
    by: str
    on: dt.date


@dataclass(frozen=True)
class Commitment:
    """An agreement partnerships signed against the envelope, and what became of it."""

    amount: Decimal
    disbursed: Decimal = ZERO
    released: Decimal = ZERO
    state: str = "signed"  # signed -> terminated

    @property
    def committed(self) -> Decimal:
        return self.amount - self.released


def release_on_termination(commitment: Commitment, returned: Decimal) -> Decimal:
    """What a terminated agreement gives back to the envelope.

    The part never disbursed was never spent, and what the BKM returned is unspent too:
    amount - disbursed + returned. Returned money beyond what was disbursed cannot be
    released twice, so the release is capped at the amount.
    """
    return min(commitment.amount, commitment.amount - commitment.disbursed + returned)


# -- the opportunity -------------------------------------------------------------------------


class Opportunity(Aggregate):
    """A partner's funding opportunity: draft -> open -> closed, or cancelled before it
    committed anything. Terms may change while drafted (privately) or open (as numbered,
    public revisions). The envelope is committed by signed agreements and released by
    terminated ones; committed never exceeds it.

    Every event carries the partner, so public events made from them need no lookup.
    """

    @event("Drafted")
    def __init__(self, id: UUID, partner_id: UUID, terms: dict[str, Any], drafted_by: str) -> None:
        self.partner_id = partner_id
        self.terms = Terms.from_state(terms)
        self.drafted_by = drafted_by
        self.partner_name = ""  # registry's name for the partner, taken when published
        self.status = "draft"
        self.revisions: list[Revision] = []
        self.commitments: dict[str, Commitment] = {}
        self.exhausted = False
        self.closed_on: dt.date | None = None

    @classmethod
    def draft(cls, id: UUID, partner_id: UUID, terms: Terms, drafted_by: str) -> Opportunity:
        return cls(
            id=id, partner_id=partner_id, terms=check_terms(terms).state(), drafted_by=drafted_by
        )

    # -- terms -----------------------------------------------------------------------------

    def change_terms(self, terms: Terms, changed_by: str, today: dt.date) -> None:
        """A draft is edited in place; an open opportunity gets a new revision."""
        if self.status == "draft":
            self.edit_draft(terms, changed_by)
        else:
            self.revise(terms, changed_by, today)

    def edit_draft(self, terms: Terms, edited_by: str) -> None:
        self._require_status("draft", "edit the draft of")
        self._draft_edited(terms=check_terms(terms).state(), edited_by=edited_by, **self._context())

    @event("DraftEdited")
    def _draft_edited(self, terms: dict[str, Any], edited_by: str, partner_id: UUID) -> None:
        self.terms = Terms.from_state(terms)

    def publish(self, partner_name: str, published_by: str, today: dt.date) -> None:
        self._require_status("draft", "publish")
        self._require_not_past(self.terms, today)
        self._published(
            terms=self.terms.state(),
            revision=1,
            partner_name=partner_name,
            published_by=published_by,
            published_on=today,
            **self._context(),
        )

    @event("Published")
    def _published(
        self,
        terms: dict[str, Any],
        revision: int,
        partner_name: str,
        published_by: str,
        published_on: dt.date,
        partner_id: UUID,
    ) -> None:
        self.status = "open"
        self.partner_name = partner_name
        self.revisions.append(Revision(revision, self.terms, published_by, published_on))

    def revise(self, terms: Terms, revised_by: str, today: dt.date) -> None:
        self._require_status("open", "revise")
        checked = check_terms(terms)
        self._require_not_past(checked, today)
        if checked.envelope < self.committed:
            raise TermsError(
                f"the envelope {checked.envelope} is below what is already committed "
                f"{self.committed}",
                field="envelope",
                rule="envelope-covers-committed",
            )
        if checked == self.terms:
            raise TermsError(
                "the revision changes nothing", field="terms", rule="revision-changes-terms"
            )
        self._revised(
            terms=checked.state(),
            revision=self.revision + 1,
            partner_name=self.partner_name,
            revised_by=revised_by,
            revised_on=today,
            **self._context(),
        )
        self._follow_exhaustion()

    @event("Revised")
    def _revised(
        self,
        terms: dict[str, Any],
        revision: int,
        partner_name: str,
        revised_by: str,
        revised_on: dt.date,
        partner_id: UUID,
    ) -> None:
        self.terms = Terms.from_state(terms)
        self.revisions.append(Revision(revision, self.terms, revised_by, revised_on))

    @property
    def revision(self) -> int:
        return len(self.revisions)

    # -- lifecycle -------------------------------------------------------------------------

    def close(self, today: dt.date) -> None:
        """The partner stops taking proposals; agreements already signed stand."""
        self._require_status("open", "close")
        self._closed(closed_because="closed_by_partner", closed_on=today, **self._context())

    def close_if_due(self, today: dt.date) -> bool:
        """Close an open opportunity whose close date has passed; whether it did.

        It closes as of the day after its close date (the last day proposals were taken),
        whenever the check runs, so a late check records the same fact as a timely one.
        """
        if self.status != "open" or today <= self.terms.close_date:
            return False
        closed_on = self.terms.close_date + ONE_DAY
        self._closed(closed_because="close_date_reached", closed_on=closed_on, **self._context())
        return True

    @event("Closed")
    def _closed(self, closed_because: str, closed_on: dt.date, partner_id: UUID) -> None:
        self.status = "closed"
        self.closed_on = closed_on

    def cancel(self, reason: str, cancelled_by: str) -> None:
        if self.status not in ("draft", "open"):
            raise OpportunityStateError(
                f"only a draft or open opportunity can be cancelled; this one is {self.status}",
                field="status",
                rule="opportunity-draft-or-open",
            )
        if self.commitments:
            raise OpportunityStateError(
                "agreements were signed against the envelope; close the opportunity instead",
                field="status",
                rule="nothing-committed",
            )
        self._cancelled(reason=reason, cancelled_by=cancelled_by, **self._context())

    @event("Cancelled")
    def _cancelled(self, reason: str, cancelled_by: str, partner_id: UUID) -> None:
        self.status = "cancelled"

    # -- the envelope, as partnerships reports it --------------------------------------------

    @property
    def committed(self) -> Decimal:
        return sum((c.committed for c in self.commitments.values()), ZERO)

    @property
    def remaining(self) -> Decimal:
        return self.terms.envelope - self.committed

    def commit(self, agreement_id: UUID, partner_id: UUID, amount: Decimal) -> None:
        """Record a signed agreement. Partnerships must refuse a signing the envelope cannot
        take (it knows what remains from our events); one that arrives anyway is an anomaly
        refused here, never an over-commitment."""
        if self.status not in ("open", "closed"):
            raise EnvelopeError(
                f"an agreement was signed against a {self.status} opportunity",
                field="opportunity_id",
                rule="opportunity-published",
            )
        if partner_id != self.partner_id:
            raise EnvelopeError(
                f"the agreement's partner {partner_id} does not offer this opportunity",
                field="partner_id",
                rule="partner-of-opportunity",
            )
        if str(agreement_id) in self.commitments:
            raise EnvelopeError(
                f"agreement {agreement_id} already committed this envelope",
                field="agreement_id",
                rule="agreement-commits-once",
            )
        if amount > self.remaining:
            raise EnvelopeError(
                f"over-commitment refused: agreement {agreement_id} for {amount} exceeds what "
                f"remains of the envelope ({self.remaining} of {self.terms.envelope})",
                field="amount",
                rule="envelope-not-exceeded",
            )
        after = self.committed + amount
        self._envelope_committed(
            agreement_id=agreement_id,
            amount=amount,
            envelope=self.terms.envelope,
            committed=after,
            remaining=self.terms.envelope - after,
            **self._context(),
        )
        self._follow_exhaustion()

    @event("EnvelopeCommitted")
    def _envelope_committed(
        self,
        agreement_id: UUID,
        amount: Decimal,
        envelope: Decimal,
        committed: Decimal,
        remaining: Decimal,
        partner_id: UUID,
    ) -> None:
        self.commitments[str(agreement_id)] = Commitment(amount=amount)

    def record_disbursement(self, agreement_id: UUID, amount: Decimal) -> None:
        commitment = self._commitment(agreement_id)
        self._disbursement_recorded(
            agreement_id=agreement_id, disbursed=commitment.disbursed + amount
        )

    @event("DisbursementRecorded")
    def _disbursement_recorded(self, agreement_id: UUID, disbursed: Decimal) -> None:
        before = self.commitments[str(agreement_id)]
        self.commitments[str(agreement_id)] = dataclasses.replace(before, disbursed=disbursed)

    def release(self, agreement_id: UUID, returned: Decimal) -> None:
        """A terminated agreement gives back what it no longer uses (see
        `release_on_termination`). When it spent everything, only the agreement's end is
        recorded (privately): a public release of nothing would say nothing."""
        commitment = self._commitment(agreement_id)
        if commitment.state == "terminated":
            raise EnvelopeError(
                f"agreement {agreement_id} was already terminated",
                field="agreement_id",
                rule="agreement-terminates-once",
            )
        amount = release_on_termination(commitment, returned)
        if amount == ZERO:
            self._commitment_spent(agreement_id=agreement_id)
            return
        after = self.committed - amount
        self._envelope_released(
            agreement_id=agreement_id,
            amount=amount,
            envelope=self.terms.envelope,
            committed=after,
            remaining=self.terms.envelope - after,
            **self._context(),
        )
        self._follow_exhaustion()

    @event("EnvelopeReleased")
    def _envelope_released(
        self,
        agreement_id: UUID,
        amount: Decimal,
        envelope: Decimal,
        committed: Decimal,
        remaining: Decimal,
        partner_id: UUID,
    ) -> None:
        before = self.commitments[str(agreement_id)]
        self.commitments[str(agreement_id)] = dataclasses.replace(
            before, released=amount, state="terminated"
        )

    @event("CommitmentSpent")
    def _commitment_spent(self, agreement_id: UUID) -> None:
        before = self.commitments[str(agreement_id)]
        self.commitments[str(agreement_id)] = dataclasses.replace(before, state="terminated")

    def _follow_exhaustion(self) -> None:
        """Say once when what remains can no longer fund one activity; a release or a
        revision that makes room again re-arms the signal."""
        exhausted = self.remaining < self.terms.min_amount
        if exhausted and not self.exhausted:
            self._envelope_exhausted(
                remaining=self.remaining, min_amount=self.terms.min_amount, **self._context()
            )
        elif not exhausted and self.exhausted:
            self._envelope_replenished(remaining=self.remaining)

    @event("EnvelopeExhausted")
    def _envelope_exhausted(
        self, remaining: Decimal, min_amount: Decimal, partner_id: UUID
    ) -> None:
        self.exhausted = True

    @event("EnvelopeReplenished")
    def _envelope_replenished(self, remaining: Decimal) -> None:
        self.exhausted = False

    # -- guards ----------------------------------------------------------------------------

    def _context(self) -> dict[str, Any]:
        return {"partner_id": self.partner_id}

    def _require_status(self, status: str, action: str) -> None:
        if self.status != status:
            raise OpportunityStateError(
                f"cannot {action} a {self.status} opportunity: it must be {status}",
                field="status",
                rule=f"opportunity-{status}",
            )

    @staticmethod
    def _require_not_past(terms: Terms, today: dt.date) -> None:
        if terms.close_date < today:
            raise TermsError(
                f"the close date {terms.close_date} has already passed",
                field="close_date",
                rule="close-date-not-passed",
            )

    def _commitment(self, agreement_id: UUID) -> Commitment:
        try:
            return self.commitments[str(agreement_id)]
        except KeyError:
            raise EnvelopeError(
                f"agreement {agreement_id} never committed this envelope",
                field="agreement_id",
                rule="agreement-committed",
            ) from None


# -- partners as registry reports them ---------------------------------------------------------


class KnownPartner(Aggregate):
    """A partner opportunities learned from registry's events (same id as in registry)."""

    @event("Learned")
    def __init__(self, id: UUID, name: str | None, kind: str | None) -> None:
        self.name = name
        self.kind = kind
        self.verified = False

    def registered(self, name: str, kind: str) -> None:
        if (name, kind) != (self.name, self.kind):
            self._described(name=name, kind=kind)

    @event("Described")
    def _described(self, name: str, kind: str) -> None:
        self.name = name
        self.kind = kind

    def verify(self) -> None:
        if not self.verified:
            self._verified()

    @event("Verified")
    def _verified(self) -> None:
        self.verified = True

    def require_can_publish(self) -> str:
        """The partner's name, if it may publish: registry verified it."""
        if not self.verified or self.name is None:
            raise OpportunityStateError(
                "only a partner registry verified can publish opportunities",
                field="partner_id",
                rule="partner-verified",
            )
        return self.name


# -- agreements, to find an envelope from partnerships' later events ------------------------


class AgreementLink(Aggregate):
    """The opportunity a signed agreement committed. Partnerships names the opportunity only
    when signing; tranches and terminations name the agreement, and find it through this."""

    @staticmethod
    def create_id(agreement_id: UUID) -> UUID:
        # Derived, so the link is found from the agreement id alone.
        return uuid5(_AGREEMENT_LINKS, str(agreement_id))

    @event("Linked")
    def __init__(self, agreement_id: UUID, opportunity_id: UUID) -> None:
        self.agreement_id = agreement_id
        self.opportunity_id = opportunity_id


_AGREEMENT_LINKS = UUID("5f0e8d1c-3b7a-4c2e-9a61-0d4b8e2f7c35")
