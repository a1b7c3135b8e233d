"""Partnerships use cases: one method each, load -> authorise -> check -> change -> save.

The policy that turns other services' events into changes of the `known` aggregates is in
`salur_partnerships.policy`; commands here only read those aggregates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from salur_contracts.cloudevents import Envelope
from salur_kit.auth import Principal
from salur_kit.errors import NotFoundError, RuleViolationError
from salur_kit.eventstore import ServiceApplication

from salur_partnerships import policy
from salur_partnerships.domain import Agreement, Proposal, Terms
from salur_partnerships.known import (
    KnownBkm,
    KnownMatch,
    KnownOpportunity,
    KnownPartner,
    KnownPlan,
    StandingError,
)
from salur_partnerships.money import HUNDRED, MoneyRuleError
from salur_partnerships.policy import A


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class PartnershipsApplication(ServiceApplication):
    name = "partnerships"
    # An opportunity gathers an event per agreement signed against it (its reservation)
    # and per envelope change; snapshots keep loading it cheap however many there are.
    snapshotting_intervals = {KnownOpportunity: 100}

    # -- proposals -----------------------------------------------------------------------------

    def submit_proposal(
        self,
        principal: Principal,
        *,
        match_id: UUID | None,
        plan_id: UUID | None,
        activity_id: UUID | None,
        opportunity_id: UUID | None,
        amount_requested: Decimal,
        swadaya_amount: Decimal,
        work_plan: str,
    ) -> Proposal:
        """An operator proposes an activity of their BKM, open for channelling, to an open
        opportunity it fits; from a proposed match, the match names both."""
        if match_id is not None:
            match = self._known(KnownMatch, match_id, "match")
            if match.withdrawn:
                raise StandingError(
                    "matching withdrew this match", field="match_id", rule="match-proposed"
                )
            plan_id, activity_id = match.plan_id, match.activity_id
            opportunity_id = match.opportunity_id
        if plan_id is None or activity_id is None or opportunity_id is None:
            raise RuleViolationError(
                "name a match_id, or plan_id, activity_id and opportunity_id",
                field="match_id",
                rule="proposal-target",
            )
        plan = self._known(KnownPlan, plan_id, "plan")
        principal.require_bkm_operator_of(plan.bkm_id)
        self._known(KnownBkm, plan.bkm_id, "BKM").require_verified("propose")
        activity = plan.open_activity(activity_id)
        opportunity = self._known(KnownOpportunity, opportunity_id, "opportunity")
        opportunity.require_open()
        self._check_request(activity, opportunity, amount_requested, swadaya_amount)
        proposal_id = uuid4()
        proposal = Proposal(
            id=proposal_id,
            parties={
                "proposal_id": proposal_id,
                "opportunity_id": opportunity_id,
                "plan_id": plan_id,
                "activity_id": activity_id,
                "bkm_id": plan.bkm_id,
                "partner_id": opportunity.partner_id,
            },
            match_id=match_id,
            amount_requested=amount_requested,
            swadaya_amount=swadaya_amount,
            work_plan=work_plan,
            submitted_by=principal.subject,
        )
        self.save_or_conflict(proposal)
        return proposal

    @staticmethod
    def _check_request(
        activity: dict[str, Any],
        opportunity: KnownOpportunity,
        amount: Decimal,
        swadaya: Decimal,
    ) -> None:
        needed = activity.get("outstanding", activity["amount_needed"])
        if amount > needed:
            raise MoneyRuleError(
                f"the activity still needs {needed}; {amount} was requested",
                field="amount_requested",
                rule="amount-within-needed",
            )
        opportunity.require_fits(
            amount=amount,
            aspect=activity["aspect"],
            kind=activity["kind"],
            region_code=activity["region_code"],
        )
        percent = Decimal(opportunity.terms["required_swadaya_percent"])
        required = (activity["estimated_cost"] * percent / HUNDRED).quantize(Decimal("0.01"))
        if swadaya < required:
            raise MoneyRuleError(
                f"the opportunity asks for a self-help share of {percent}% of the cost: at "
                f"least {required}, not {swadaya}",
                field="swadaya_amount",
                rule="swadaya-share",
            )

    def accept_proposal(
        self, principal: Principal, proposal_id: UUID, expected: int | None
    ) -> Proposal:
        proposal = self._proposal_for_officer(principal, proposal_id, expected)
        proposal.accept(principal.subject)
        self.save_or_conflict(proposal)
        return proposal

    def reject_proposal(
        self, principal: Principal, proposal_id: UUID, reason: str, expected: int | None
    ) -> Proposal:
        proposal = self._proposal_for_officer(principal, proposal_id, expected)
        proposal.reject(reason, principal.subject)
        self.save_or_conflict(proposal)
        return proposal

    def request_revision(
        self, principal: Principal, proposal_id: UUID, reason: str, expected: int | None
    ) -> Proposal:
        proposal = self._proposal_for_officer(principal, proposal_id, expected)
        proposal.request_revision(reason, principal.subject)
        self.save_or_conflict(proposal)
        return proposal

    def revise_proposal(
        self,
        principal: Principal,
        proposal_id: UUID,
        *,
        amount_requested: Decimal,
        swadaya_amount: Decimal,
        work_plan: str,
        expected: int | None,
    ) -> Proposal:
        proposal = self._proposal_for_operator(principal, proposal_id, expected)
        parties = proposal.parties
        plan = self._known(KnownPlan, UUID(str(parties["plan_id"])), "plan")
        activity = plan.open_activity(UUID(str(parties["activity_id"])))
        opportunity = self._known(
            KnownOpportunity, UUID(str(parties["opportunity_id"])), "opportunity"
        )
        opportunity.require_open()
        self._check_request(activity, opportunity, amount_requested, swadaya_amount)
        proposal.revise(amount_requested, swadaya_amount, work_plan, principal.subject)
        self.save_or_conflict(proposal)
        return proposal

    def withdraw_proposal(
        self, principal: Principal, proposal_id: UUID, expected: int | None
    ) -> Proposal:
        proposal = self._proposal_for_operator(principal, proposal_id, expected)
        proposal.withdraw(principal.subject)
        self.save_or_conflict(proposal)
        return proposal

    def get_proposal(self, proposal_id: UUID) -> Proposal:
        return self.load(Proposal, proposal_id, "proposal")

    # -- agreements ----------------------------------------------------------------------------

    def draw_agreement(
        self,
        principal: Principal,
        proposal_id: UUID,
        terms: Terms,
        expected: int | None,
    ) -> Agreement:
        """The partner writes the agreement for an accepted proposal, at most its amount."""
        proposal = self._proposal_for_officer(principal, proposal_id, expected)
        if terms.amount > proposal.amount_requested:
            raise MoneyRuleError(
                f"the agreement cannot exceed the accepted request of {proposal.amount_requested}",
                field="amount",
                rule="amount-within-request",
            )
        parties = proposal.parties
        bkm = self._known(KnownBkm, proposal.bkm_id, "BKM")
        partner = self._known(KnownPartner, proposal.partner_id, "partner")
        activity = self._known(KnownPlan, UUID(str(parties["plan_id"])), "plan").activity(
            UUID(str(parties["activity_id"]))
        )
        agreement_id = uuid4()
        proposal.record_agreement(agreement_id)
        agreement = Agreement.draft(
            agreement_id,
            {
                **parties,
                "agreement_id": agreement_id,
                "partner_name": partner.name,
                "provider_kind": partner.kind,
                "receiver_name": bkm.name,
                "activity_title": activity.get("title"),
                "aspect": activity["aspect"],
                "region_code": activity["region_code"],
                "currency": "IDR",
            },
            terms,
            principal.subject,
        )
        self.save_or_conflict(proposal, agreement)
        return agreement

    def sign(
        self, principal: Principal, agreement_id: UUID, party: str, expected: int | None
    ) -> Agreement:
        """Either party signs; signing needs a verified BKM with a confirmed account and
        envelope left for the amount, counting agreements not yet committed by
        opportunities. The second signature reserves the amount in the same transaction."""
        agreement = self.get_agreement(agreement_id)
        if party == "partner":
            principal.require_partner_officer_of(agreement.partner_id)
        else:
            principal.require_bkm_operator_of(agreement.bkm_id)
        self.check_version(agreement, expected)
        self._known(KnownBkm, agreement.bkm_id, "BKM").confirmed_account("sign")
        opportunity = self._known(KnownOpportunity, agreement.opportunity_id, "opportunity")
        if opportunity.status == "cancelled":
            raise StandingError(
                "the opportunity was cancelled", field="opportunity_id", rule="opportunity-open"
            )
        opportunity.require_envelope(agreement.terms.amount)
        agreement.sign(party, principal.subject, _today())
        if agreement.status == "in_force":
            opportunity.reserve(agreement.id, agreement.terms.amount)
            self.save_or_conflict(agreement, opportunity)
        else:
            self.save_or_conflict(agreement)
        return agreement

    def disburse(
        self,
        principal: Principal,
        agreement_id: UUID,
        number: int,
        *,
        amount: Decimal,
        transfer_reference: str,
        disbursed_on: dt.date,
        destination_account: str | None,
        expected: int | None,
    ) -> Agreement:
        """Only to the BKM's verified, confirmed bank account."""
        agreement = self._agreement_for_officer(principal, agreement_id, expected)
        account = self._known(KnownBkm, agreement.bkm_id, "BKM").confirmed_account(
            "receive a tranche"
        )
        if destination_account is not None and destination_account != account:
            raise StandingError(
                "funds go only to the BKM's verified bank account; the destination differs",
                field="destination_account",
                rule="destination-verified-account",
            )
        agreement.disburse(number, amount, transfer_reference, disbursed_on, account)
        self.save_or_conflict(agreement)
        return agreement

    def confirm_receipt(
        self,
        principal: Principal,
        agreement_id: UUID,
        number: int,
        received_on: dt.date,
        expected: int | None,
    ) -> Agreement:
        agreement = self._agreement_for_operator(principal, agreement_id, expected)
        agreement.confirm_receipt(number, received_on, principal.subject)
        self.save_or_conflict(agreement)
        return agreement

    def report_realisation(
        self,
        principal: Principal,
        agreement_id: UUID,
        *,
        tranche_number: int,
        lines: list[dict[str, Any]],
        physical_progress_percent: int,
        beneficiaries_reached: int,
        expected: int | None,
    ) -> tuple[Agreement, int]:
        agreement = self._agreement_for_operator(principal, agreement_id, expected)
        number = agreement.report(
            tranche_number,
            lines,
            physical_progress_percent,
            beneficiaries_reached,
            principal.subject,
            _today(),
        )
        self.save_or_conflict(agreement)
        return agreement, number

    def accept_report(
        self, principal: Principal, agreement_id: UUID, number: int, expected: int | None
    ) -> Agreement:
        agreement = self._agreement_for_officer(principal, agreement_id, expected)
        agreement.accept_report(number, principal.subject, _today())
        self.save_or_conflict(agreement)
        return agreement

    def reject_report(
        self,
        principal: Principal,
        agreement_id: UUID,
        number: int,
        reason: str,
        expected: int | None,
    ) -> Agreement:
        agreement = self._agreement_for_officer(principal, agreement_id, expected)
        agreement.reject_report(number, reason, principal.subject)
        self.save_or_conflict(agreement)
        return agreement

    def terminate(
        self,
        principal: Principal,
        agreement_id: UUID,
        *,
        reason: str,
        returned_amount: Decimal,
        return_transfer_reference: str | None,
        expected: int | None,
    ) -> Agreement:
        agreement = self._agreement_for_officer(principal, agreement_id, expected)
        agreement.terminate(reason, returned_amount, return_transfer_reference, _today())
        self.save_or_conflict(agreement)
        return agreement

    def get_agreement(self, agreement_id: UUID) -> Agreement:
        return self.load(Agreement, agreement_id, "agreement")

    def known_opportunity(self, opportunity_id: UUID) -> KnownOpportunity:
        return self._known(KnownOpportunity, opportunity_id, "opportunity")

    # -- what other services tell us -----------------------------------------------------------

    def policy(self, envelope: Envelope) -> Sequence[Aggregate]:
        """The known aggregates an incoming event changes (saved with its tracking record)."""
        return policy.follow(self, envelope.data)

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        try:
            return self.load(cls, aggregate_id, cls.__name__)
        except NotFoundError:
            return None

    # -- guards --------------------------------------------------------------------------------

    def _known(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        found = self.find(cls, aggregate_id)
        if found is None:
            raise StandingError(
                f"{what} {aggregate_id} is not known to partnerships: its service has not "
                "reported it",
                field=f"{what.lower()}_id",
                rule=f"{what.lower()}-known",
            )
        return found

    def _proposal_for_officer(
        self, principal: Principal, proposal_id: UUID, expected: int | None
    ) -> Proposal:
        proposal = self.get_proposal(proposal_id)
        principal.require_partner_officer_of(proposal.partner_id)
        self.check_version(proposal, expected)
        return proposal

    def _proposal_for_operator(
        self, principal: Principal, proposal_id: UUID, expected: int | None
    ) -> Proposal:
        proposal = self.get_proposal(proposal_id)
        principal.require_bkm_operator_of(proposal.bkm_id)
        self.check_version(proposal, expected)
        return proposal

    def _agreement_for_officer(
        self, principal: Principal, agreement_id: UUID, expected: int | None
    ) -> Agreement:
        agreement = self.get_agreement(agreement_id)
        principal.require_partner_officer_of(agreement.partner_id)
        self.check_version(agreement, expected)
        return agreement

    def _agreement_for_operator(
        self, principal: Principal, agreement_id: UUID, expected: int | None
    ) -> Agreement:
        agreement = self.get_agreement(agreement_id)
        principal.require_bkm_operator_of(agreement.bkm_id)
        self.check_version(agreement, expected)
        return agreement
