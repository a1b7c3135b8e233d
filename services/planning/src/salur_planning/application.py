"""Planning use cases: one method each, load -> authorise -> change -> save; and the policy
that turns registry's, partnerships' and matching's events into changes of planning's own
aggregates."""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from salur_contracts import matching, partnerships, registry
from salur_contracts.base import IntegrationEvent
from salur_contracts.cloudevents import Envelope
from salur_kit.auth import Principal
from salur_kit.errors import NotFoundError, RuleViolationError
from salur_kit.eventstore import ServiceApplication

from salur_planning.domain import Activity, KnownBkm, Plan, check_period

# What each registry event says about a BKM's status (None: nothing about it).
_REGISTRY_STATUS: dict[type[IntegrationEvent], str | None] = {
    registry.BkmRegistered: None,
    registry.BkmVerified: "verified",
    registry.BkmSuspended: "suspended",
    registry.BkmReinstated: "reinstated",
}

BkmEvent = (
    registry.BkmRegistered
    | registry.BkmUnitAdded
    | registry.BkmUnitRemoved
    | registry.BkmBankAccountChanged
    | registry.BkmBankAccountConfirmed
    | registry.BkmVerified
    | registry.BkmSuspended
    | registry.BkmReinstated
)
FundingEvent = (
    partnerships.AgreementSigned
    | partnerships.TrancheDisbursed
    | partnerships.PartnershipCompleted
    | partnerships.PartnershipTerminated
)
MatchEvent = matching.MatchProposed | matching.MatchWithdrawn


# What `PlanningApplication.policy` acts on; partners' standing and the proposals before an
# agreement do not concern plans.
HANDLED: tuple[type[IntegrationEvent], ...] = (
    *typing.get_args(BkmEvent),
    *typing.get_args(FundingEvent),
    *typing.get_args(MatchEvent),
)


class PlanningApplication(ServiceApplication):
    name = "planning"

    # -- plans -------------------------------------------------------------------------------

    def draft_plan(
        self, principal: Principal, *, bkm_id: UUID, start_year: int, end_year: int
    ) -> Plan:
        """An operator drafts a plan for their BKM, which registry must have told us about."""
        principal.require_bkm_operator_of(bkm_id)
        check_period(start_year, end_year)
        bkm = self._known_bkm(bkm_id)
        plan_id = uuid4()
        bkm.claim_period(plan_id, start_year, end_year)
        plan = Plan(
            id=plan_id,
            bkm_id=bkm_id,
            region_code=bkm.region_code,
            start_year=start_year,
            end_year=end_year,
            drafted_by=principal.subject,
        )
        self.save_or_conflict(bkm, plan)
        return plan

    def add_activity(
        self,
        principal: Principal,
        plan_id: UUID,
        activity: Activity,
        expected: int | None,
        activity_id: UUID | None = None,
    ) -> tuple[Plan, UUID]:
        plan = self._plan_for_operator(principal, plan_id, expected)
        activity_id = activity_id or uuid4()
        plan.add_activity(activity_id, activity)
        self.save_or_conflict(plan)
        return plan, activity_id

    def revise_activity(
        self,
        principal: Principal,
        plan_id: UUID,
        activity_id: UUID,
        activity: Activity,
        expected: int | None,
    ) -> Plan:
        plan = self._plan_for_operator(principal, plan_id, expected)
        plan.revise_activity(activity_id, activity)
        self.save_or_conflict(plan)
        return plan

    def remove_activity(
        self, principal: Principal, plan_id: UUID, activity_id: UUID, expected: int | None
    ) -> Plan:
        plan = self._plan_for_operator(principal, plan_id, expected)
        plan.remove_activity(activity_id)
        self.save_or_conflict(plan)
        return plan

    def submit_plan(self, principal: Principal, plan_id: UUID, expected: int | None) -> Plan:
        plan = self._plan_for_operator(principal, plan_id, expected)
        plan.submit(principal.subject)
        self.save_or_conflict(plan)
        return plan

    def endorse_plan(
        self,
        principal: Principal,
        plan_id: UUID,
        *,
        meeting_date: dt.date,
        attendance: int,
        minutes_sha256: str,
        expected: int | None,
    ) -> Plan:
        """A facilitator of the BKM's region endorses what the rembug warga ratified."""
        plan = self.get_plan(plan_id)
        principal.require_facilitator_for(plan.region_code)
        self.check_version(plan, expected)
        plan.endorse(
            meeting_date=meeting_date,
            attendance=attendance,
            minutes_sha256=minutes_sha256,
            endorsed_by=principal.subject,
            today=dt.datetime.now(dt.UTC).date(),
        )
        self.save_or_conflict(plan)
        return plan

    def open_revision(self, principal: Principal, plan_id: UUID, expected: int | None) -> Plan:
        plan = self._plan_for_operator(principal, plan_id, expected)
        plan.open_revision(principal.subject)
        self.save_or_conflict(plan)
        return plan

    def get_plan(self, plan_id: UUID) -> Plan:
        return self.load(Plan, plan_id, "plan")

    def plans_of(self, bkm_id: UUID) -> dict[UUID, tuple[int, int]]:
        """A BKM's plans and their periods (strongly consistent: read from its aggregate)."""
        return dict(self.load(KnownBkm, bkm_id, "BKM").periods)

    # -- channelling -------------------------------------------------------------------------

    def open_channelling(
        self,
        principal: Principal,
        plan_id: UUID,
        activity_id: UUID,
        amount_needed: Decimal,
        expected: int | None,
    ) -> Plan:
        """Only a BKM registry verified may seek partners' funding."""
        plan = self._plan_for_operator(principal, plan_id, expected)
        self._known_bkm(plan.bkm_id).require_verified()
        plan.open_channelling(activity_id, amount_needed, principal.subject)
        self.save_or_conflict(plan)
        return plan

    def withdraw_channelling(
        self, principal: Principal, plan_id: UUID, activity_id: UUID, expected: int | None
    ) -> Plan:
        plan = self._plan_for_operator(principal, plan_id, expected)
        plan.withdraw_channelling(activity_id, principal.subject)
        self.save_or_conflict(plan)
        return plan

    # -- what other services tell us -----------------------------------------------------------

    def policy(self, envelope: Envelope) -> Sequence[Aggregate]:
        """The aggregates an incoming event changes (saved with its tracking record)."""
        data = envelope.data
        if isinstance(data, BkmEvent):
            return self._follow_registry(data)
        if isinstance(data, partnerships.AgreementSigned):
            plan = self._funded_plan(data)
            plan.record_agreement(
                data.activity_id, data.agreement_id, data.partner_id, data.partner_name, data.amount
            )
        elif isinstance(data, partnerships.TrancheDisbursed):
            plan = self._funded_plan(data)
            plan.record_disbursement(data.activity_id, data.agreement_id, data.amount)
        elif isinstance(data, partnerships.PartnershipCompleted):
            plan = self._funded_plan(data)
            plan.record_completion(data.activity_id, data.agreement_id, data.total_disbursed)
        elif isinstance(data, partnerships.PartnershipTerminated):
            plan = self._funded_plan(data)
            plan.record_termination(data.activity_id, data.agreement_id, data.returned_amount)
        elif isinstance(data, matching.MatchProposed):
            plan = self._funded_plan(data)
            plan.record_match(
                data.activity_id, data.match_id, data.opportunity_id, data.partner_id, data.score
            )
        elif isinstance(data, matching.MatchWithdrawn):
            plan = self._funded_plan(data)
            plan.record_match_withdrawal(data.activity_id, data.match_id)
        else:
            return []  # partners' standing does not concern plans
        return [plan]

    def _follow_registry(self, data: BkmEvent) -> Sequence[Aggregate]:
        try:
            bkm = self.load(KnownBkm, data.bkm_id, "BKM")
        except NotFoundError:
            # Learned from whichever event comes first: all of them carry the region.
            bkm = KnownBkm(id=data.bkm_id, region_code=data.region_code, status="registered")
        status = _REGISTRY_STATUS.get(type(data))
        if status is not None:
            bkm.follow(status)
        return [bkm]

    def _funded_plan(self, data: FundingEvent | MatchEvent) -> Plan:
        plan = self.get_plan(data.plan_id)
        if plan.bkm_id != data.bkm_id:
            raise RuleViolationError(
                f"plan {data.plan_id} belongs to BKM {plan.bkm_id}, not {data.bkm_id}",
                field="bkm_id",
                rule="plan-of-bkm",
            )
        return plan

    # -- guards ------------------------------------------------------------------------------

    def _plan_for_operator(self, principal: Principal, plan_id: UUID, expected: int | None) -> Plan:
        plan = self.get_plan(plan_id)
        principal.require_bkm_operator_of(plan.bkm_id)
        self.check_version(plan, expected)
        return plan

    def _known_bkm(self, bkm_id: UUID) -> KnownBkm:
        try:
            return self.load(KnownBkm, bkm_id, "BKM")
        except NotFoundError:
            raise RuleViolationError(
                f"BKM {bkm_id} is not known to planning: registry has not reported it",
                field="bkm_id",
                rule="bkm-registered",
            ) from None
