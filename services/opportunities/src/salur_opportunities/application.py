"""Opportunities use cases: one method each, load -> authorise -> change -> save; and the
policy that turns registry's and partnerships' events into changes of our own aggregates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from salur_contracts import partnerships, registry
from salur_contracts.cloudevents import Envelope
from salur_kit.auth import Principal, Role
from salur_kit.errors import ConflictError, NotFoundError, RuleViolationError
from salur_kit.eventstore import ServiceApplication

from salur_opportunities.domain import AgreementLink, KnownPartner, Opportunity, Terms

Clock = Callable[[], dt.date]

# Indonesia's western time (WIB, UTC+7), where most of the programme's kelurahan are: a
# close date is a calendar day there, not in UTC.
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")


def today_in_indonesia() -> dt.date:
    return dt.datetime.now(WIB).date()


# What `OpportunitiesApplication.policy` acts on; the rest of registry's and partnerships'
# events (BKMs' standing, proposals, completed partnerships) move no envelope.
HANDLED = (
    registry.PartnerRegistered,
    registry.PartnerVerified,
    partnerships.AgreementSigned,
    partnerships.TrancheDisbursed,
    partnerships.PartnershipTerminated,
)


class OpportunitiesApplication(ServiceApplication):
    name = "opportunities"
    # Injected in tests (a fake clock); every date rule asks it, never the system clock.
    clock: Clock = staticmethod(today_in_indonesia)

    # -- opportunities -----------------------------------------------------------------------

    def draft_opportunity(
        self, principal: Principal, *, partner_id: UUID, terms: Terms
    ) -> Opportunity:
        """An officer drafts for their own partner, which registry must have reported."""
        principal.require_partner_officer_of(partner_id)
        self._known_partner(partner_id)
        opportunity = Opportunity.draft(uuid4(), partner_id, terms, principal.subject)
        self.save_or_conflict(opportunity)
        return opportunity

    def change_terms(
        self, principal: Principal, opportunity_id: UUID, terms: Terms, expected: int | None
    ) -> Opportunity:
        """Edit a draft, or publish a new revision of an open opportunity."""
        opportunity = self._for_officer(principal, opportunity_id, expected)
        opportunity.change_terms(terms, principal.subject, self.clock())
        self.save_or_conflict(opportunity)
        return opportunity

    def publish_opportunity(
        self, principal: Principal, opportunity_id: UUID, expected: int | None
    ) -> Opportunity:
        """Only a partner registry verified may offer an opportunity."""
        opportunity = self._for_officer(principal, opportunity_id, expected)
        name = self._known_partner(opportunity.partner_id).require_can_publish()
        opportunity.publish(name, principal.subject, self.clock())
        self.save_or_conflict(opportunity)
        return opportunity

    def close_opportunity(
        self, principal: Principal, opportunity_id: UUID, expected: int | None
    ) -> Opportunity:
        opportunity = self._for_officer(principal, opportunity_id, expected)
        opportunity.close(self.clock())
        self.save_or_conflict(opportunity)
        return opportunity

    def cancel_opportunity(
        self, principal: Principal, opportunity_id: UUID, reason: str, expected: int | None
    ) -> Opportunity:
        opportunity = self._for_officer(principal, opportunity_id, expected)
        opportunity.cancel(reason, principal.subject)
        self.save_or_conflict(opportunity)
        return opportunity

    def close_if_due(self, opportunity_id: UUID) -> bool:
        """The scheduled check: close it if its close date has passed. A concurrent change
        wins; the next check sees the opportunity again."""
        opportunity = self.load(Opportunity, opportunity_id, "opportunity")
        if not opportunity.close_if_due(self.clock()):
            return False
        try:
            self.save_or_conflict(opportunity)
        except ConflictError:
            return False
        return True

    # -- queries -----------------------------------------------------------------------------

    def get_opportunity(self, principal: Principal | None, opportunity_id: UUID) -> Opportunity:
        """Everyone reads a published opportunity; a draft only its partner's officers (to
        anyone else it does not exist)."""
        opportunity = self.load(Opportunity, opportunity_id, "opportunity")
        if opportunity.status == "draft" and not _officer_of(principal, opportunity.partner_id):
            raise NotFoundError(f"opportunity {opportunity_id} does not exist")
        return opportunity

    # -- what other services tell us -----------------------------------------------------------

    def policy(self, envelope: Envelope) -> Sequence[Aggregate]:
        """The aggregates an incoming event changes (saved with its tracking record).

        A partnerships event the envelope cannot take (over-commitment, an agreement we
        never saw) raises a rule violation: the consumer dead-letters it with the rule named,
        and nothing changes.
        """
        data = envelope.data
        if isinstance(data, registry.PartnerRegistered):
            partner = self._learn_partner(data.partner_id)
            partner.registered(data.name, data.kind)
            return [partner]
        if isinstance(data, registry.PartnerVerified):
            partner = self._learn_partner(data.partner_id)
            partner.verify()
            return [partner]
        if isinstance(data, partnerships.AgreementSigned):
            opportunity = self._signed_against(data.opportunity_id)
            opportunity.commit(data.agreement_id, data.partner_id, data.amount)
            link = AgreementLink(agreement_id=data.agreement_id, opportunity_id=opportunity.id)
            return [opportunity, link]
        if isinstance(data, partnerships.TrancheDisbursed):
            opportunity = self._committed_by(data.agreement_id)
            opportunity.record_disbursement(data.agreement_id, data.amount)
            return [opportunity]
        if isinstance(data, partnerships.PartnershipTerminated):
            opportunity = self._committed_by(data.agreement_id)
            opportunity.release(data.agreement_id, data.returned_amount)
            return [opportunity]
        return []  # BKMs' standing and completed partnerships do not move envelopes

    def _committed_by(self, agreement_id: UUID) -> Opportunity:
        """The opportunity an agreement committed; none means its signing was refused."""
        try:
            link = self.load(AgreementLink, AgreementLink.create_id(agreement_id), "agreement")
        except NotFoundError:
            raise RuleViolationError(
                f"agreement {agreement_id} committed no envelope (its signing was refused "
                "or never reported)",
                field="agreement_id",
                rule="agreement-committed",
            ) from None
        return self.load(Opportunity, link.opportunity_id, "opportunity")

    def _signed_against(self, opportunity_id: UUID) -> Opportunity:
        try:
            return self.load(Opportunity, opportunity_id, "opportunity")
        except NotFoundError:
            raise RuleViolationError(
                f"an agreement was signed against opportunity {opportunity_id}, which does "
                "not exist",
                field="opportunity_id",
                rule="opportunity-exists",
            ) from None

    def _learn_partner(self, partner_id: UUID) -> KnownPartner:
        try:
            return self.load(KnownPartner, partner_id, "partner")
        except NotFoundError:
            # Learned from whichever event comes first; the registration names it.
            return KnownPartner(id=partner_id, name=None, kind=None)

    # -- guards ------------------------------------------------------------------------------

    def _for_officer(
        self, principal: Principal, opportunity_id: UUID, expected: int | None
    ) -> Opportunity:
        opportunity = self.get_opportunity(principal, opportunity_id)
        principal.require_partner_officer_of(opportunity.partner_id)
        self.check_version(opportunity, expected)
        return opportunity

    def _known_partner(self, partner_id: UUID) -> KnownPartner:
        try:
            return self.load(KnownPartner, partner_id, "partner")
        except NotFoundError:
            raise RuleViolationError(
                f"partner {partner_id} is not known to opportunities: registry has not reported it",
                field="partner_id",
                rule="partner-registered",
            ) from None


def _officer_of(principal: Principal | None, partner_id: UUID) -> bool:
    return (
        principal is not None
        and principal.role == Role.partner_officer
        and principal.organisation_id == partner_id
    )
