"""Planning aggregates: PJM Pronangkis plans with their activities and channelling, and the
BKMs planning knows from registry's events.

Rules live here as small named guards; values arrive already validated in shape (region
codes, money as Decimal with two places) by the contracts' types at the edge.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from salur_kit.errors import ConflictError, NotFoundError, RuleViolationError

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MAX_PERIOD_YEARS = 5
_SHA256 = re.compile(r"[0-9a-f]{64}")


class PlanStateError(RuleViolationError):
    """A plan command its current status does not allow."""


class ActivityRuleError(RuleViolationError):
    """An activity that breaks a planning rule (year, money shares, beneficiaries)."""


class ChannellingError(RuleViolationError):
    """Opening, withdrawing or funding an activity against the channelling rules."""


# -- values ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    """One activity of a plan version, as the BKM describes it.

    The self-help share is planned either as an amount or as a percentage of the cost; a
    percentage is kept, so revising the cost recomputes the amount.
    """

    title: str
    description: str
    aspect: str
    kind: str
    location_region_code: str
    rw: str | None
    rt: str | None
    poor_households: int
    women: int
    total_people: int
    estimated_cost: Decimal
    swadaya_amount: Decimal | None
    swadaya_percent: Decimal | None
    blm_amount: Decimal
    planned_year: int
    priority: int

    @property
    def swadaya(self) -> Decimal:
        return self.swadaya_amount if self.swadaya_amount is not None else ZERO

    @property
    def planned_funding(self) -> Decimal:
        """What the BKM funds without partners: swadaya and the programme's BLM grant."""
        return self.swadaya + self.blm_amount

    def state(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _checked(activity: Activity, start_year: int, end_year: int) -> Activity:
    """The activity with its swadaya amount resolved, or the first rule it breaks."""
    if not start_year <= activity.planned_year <= end_year:
        raise ActivityRuleError(
            f"planned year {activity.planned_year} is outside the plan's period "
            f"{start_year}-{end_year}",
            field="planned_year",
            rule="year-within-period",
        )
    if activity.estimated_cost <= 0:
        raise ActivityRuleError(
            "the estimated cost must be greater than zero",
            field="estimated_cost",
            rule="positive-money",
        )
    for name in ("blm_amount", "swadaya_amount"):
        amount = getattr(activity, name)
        if amount is not None and amount < 0:
            raise ActivityRuleError(f"{name} must not be negative", field=name, rule="money")
    if (activity.swadaya_amount is None) == (activity.swadaya_percent is None):
        raise ActivityRuleError(
            "give the self-help share either as an amount or as a percentage",
            field="swadaya",
            rule="swadaya-amount-or-percent",
        )
    if activity.swadaya_percent is not None:
        if not ZERO <= activity.swadaya_percent <= 100:
            raise ActivityRuleError(
                "the self-help percentage must be between 0 and 100",
                field="swadaya.percent",
                rule="swadaya-within-cost",
            )
        amount = (activity.estimated_cost * activity.swadaya_percent / 100).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        activity = dataclasses.replace(activity, swadaya_amount=amount)
    if activity.swadaya > activity.estimated_cost:
        raise ActivityRuleError(
            f"the self-help share {activity.swadaya} is above the cost {activity.estimated_cost}",
            field="swadaya.amount",
            rule="swadaya-within-cost",
        )
    if activity.planned_funding > activity.estimated_cost:
        raise ActivityRuleError(
            "swadaya plus BLM is above the estimated cost",
            field="blm_amount",
            rule="shares-within-cost",
        )
    if activity.women > activity.total_people or activity.poor_households > activity.total_people:
        raise ActivityRuleError(
            "women and poor households cannot outnumber the people targeted",
            field="beneficiaries",
            rule="beneficiaries-consistent",
        )
    if activity.priority < 1:
        raise ActivityRuleError("priority ranks start at 1", field="priority", rule="priority")
    return activity


@dataclass(frozen=True)
class Agreement:
    """A partner's agreement funding one activity, as partnerships' events describe it."""

    partner_id: UUID
    partner_name: str
    amount: Decimal
    disbursed: Decimal = ZERO
    returned: Decimal = ZERO
    state: str = "signed"  # signed -> completed | terminated

    @property
    def committed(self) -> Decimal:
        """A terminated agreement keeps only what was spent: disbursed minus returned."""
        if self.state == "terminated":
            return max(ZERO, self.disbursed - self.returned)
        return self.amount


@dataclass(frozen=True)
class Match:
    """A match matching proposed for the activity and has not withdrawn."""

    opportunity_id: UUID
    partner_id: UUID
    score: int


@dataclass(frozen=True)
class Channelling:
    """An activity opened for channelling: what it seeks, what partners committed, and the
    matches matching proposed for it."""

    amount_needed: Decimal
    seeking: bool
    agreements: Mapping[str, Agreement] = field(default_factory=dict)
    matches: Mapping[str, Match] = field(default_factory=dict)

    @property
    def committed(self) -> Decimal:
        return sum((a.committed for a in self.agreements.values()), ZERO)

    @property
    def disbursed(self) -> Decimal:
        return sum((a.disbursed for a in self.agreements.values()), ZERO)

    @property
    def outstanding(self) -> Decimal:
        if not self.seeking:
            return ZERO
        return max(ZERO, self.amount_needed - self.committed)

    @property
    def status(self) -> str:
        committed = self.committed
        if committed == 0:
            if not self.seeking:
                return "withdrawn"
            # A partner's commitment outranks a proposal; until then a match is news.
            return "matched" if self.matches else "seeking_funding"
        if committed < self.amount_needed:
            return "partially_funded"
        if all(a.state != "signed" for a in self.agreements.values()):
            return "completed"
        if self.disbursed > 0:
            return "in_progress"
        return "funded"

    def state(self) -> dict[str, Any]:
        return {
            "amount_needed": self.amount_needed,
            "seeking": self.seeking,
            "agreements": {k: dataclasses.asdict(a) for k, a in self.agreements.items()},
            "matches": {k: dataclasses.asdict(m) for k, m in self.matches.items()},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Channelling:
        return cls(
            amount_needed=state["amount_needed"],
            seeking=state["seeking"],
            agreements={k: Agreement(**a) for k, a in state["agreements"].items()},
            # Events stored before matches were followed carry none.
            matches={k: Match(**m) for k, m in state.get("matches", {}).items()},
        )

    @property
    def open_for_partners(self) -> bool:
        """Seeking, and no partner has committed yet: it may still be withdrawn."""
        return self.seeking and self.committed == 0

    def with_agreement(self, agreement_id: str, agreement: Agreement) -> Channelling:
        return dataclasses.replace(self, agreements={**self.agreements, agreement_id: agreement})

    def with_match(self, match_id: str, match: Match) -> Channelling:
        return dataclasses.replace(self, matches={**self.matches, match_id: match})

    def without_match(self, match_id: str) -> Channelling:
        rest = {k: m for k, m in self.matches.items() if k != match_id}
        return dataclasses.replace(self, matches=rest)

    def agreement(self, agreement_id: str) -> Agreement:
        try:
            return self.agreements[agreement_id]
        except KeyError:
            raise ChannellingError(
                f"agreement {agreement_id} was never signed for this activity",
                field="agreement_id",
                rule="agreement-signed",
            ) from None


@dataclass(frozen=True)
class Endorsement:
    """The rembug warga that ratified a plan version, and the facilitator who endorsed it."""

    meeting_date: dt.date
    attendance: int
    minutes_sha256: str
    endorsed_by: str


@dataclass(frozen=True)
class PlanVersion:
    """One version of a plan as it was (or is)."""

    number: int
    status: str
    activities: Mapping[UUID, Activity]
    endorsement: Endorsement | None


# -- the plan ----------------------------------------------------------------------------------


def check_period(start_year: int, end_year: int) -> None:
    if not 2000 <= start_year <= 2100:
        raise PlanStateError(
            "the start year must be between 2000 and 2100", field="start_year", rule="period"
        )
    if not start_year <= end_year < start_year + MAX_PERIOD_YEARS:
        raise PlanStateError(
            f"a plan covers 1 to {MAX_PERIOD_YEARS} years (normally three) from its start year",
            field="end_year",
            rule="period",
        )


class Plan(Aggregate):
    """A BKM's PJM Pronangkis for a period: draft -> submitted -> endorsed -> revision (new
    version, draft again). Earlier versions stay readable.

    Channelling belongs to the plan, not to a version: an activity keeps its funding when
    the plan is revised, and cannot be revised or removed while partners may fund it.
    Every event carries the BKM and its region, so the public events made from them can
    be filtered without consumer state.
    """

    @event("Drafted")
    def __init__(
        self,
        id: UUID,
        bkm_id: UUID,
        region_code: str,
        start_year: int,
        end_year: int,
        drafted_by: str,
    ) -> None:
        self.bkm_id = bkm_id
        self.region_code = region_code
        self.start_year = start_year
        self.end_year = end_year
        self.drafted_by = drafted_by
        self.number = 1
        self.status = "draft"
        self.activities: dict[UUID, Activity] = {}
        self.endorsement: Endorsement | None = None
        self.earlier: list[PlanVersion] = []
        self.channelling: dict[UUID, Channelling] = {}

    def _context(self) -> dict[str, Any]:
        return {"bkm_id": self.bkm_id, "region_code": self.region_code, "plan_version": self.number}

    # -- activities of a draft -----------------------------------------------------------------

    def add_activity(self, activity_id: UUID, activity: Activity) -> None:
        self._require_draft("add activities to")
        if activity_id in self.activities:
            raise ConflictError(
                f"activity {activity_id} is already in the plan", field="activity_id", rule="unique"
            )
        checked = _checked(activity, self.start_year, self.end_year)
        self._activity_added(activity_id=activity_id, activity=checked.state(), **self._context())

    @event("ActivityAdded")
    def _activity_added(
        self,
        activity_id: UUID,
        activity: dict[str, Any],
        bkm_id: UUID,
        region_code: str,
        plan_version: int,
    ) -> None:
        self.activities[activity_id] = Activity(**activity)

    def revise_activity(self, activity_id: UUID, activity: Activity) -> None:
        self._require_draft("revise activities of")
        self._require_editable(activity_id)
        checked = _checked(activity, self.start_year, self.end_year)
        self._activity_revised(activity_id=activity_id, activity=checked.state(), **self._context())

    @event("ActivityRevised")
    def _activity_revised(
        self,
        activity_id: UUID,
        activity: dict[str, Any],
        bkm_id: UUID,
        region_code: str,
        plan_version: int,
    ) -> None:
        self.activities[activity_id] = Activity(**activity)

    def remove_activity(self, activity_id: UUID) -> None:
        self._require_draft("remove activities from")
        self._require_editable(activity_id)
        self._activity_removed(activity_id=activity_id, **self._context())

    @event("ActivityRemoved")
    def _activity_removed(
        self, activity_id: UUID, bkm_id: UUID, region_code: str, plan_version: int
    ) -> None:
        del self.activities[activity_id]

    # -- lifecycle -------------------------------------------------------------------------------

    def submit(self, submitted_by: str) -> None:
        self._require_draft("submit")
        if not self.activities:
            raise PlanStateError(
                "a plan needs at least one activity before it is submitted",
                field="activities",
                rule="plan-has-activities",
            )
        total = sum((a.estimated_cost for a in self.activities.values()), ZERO)
        self._submitted(
            submitted_by=submitted_by,
            activity_count=len(self.activities),
            total_cost=total,
            **self._context(),
        )

    @event("Submitted")
    def _submitted(
        self,
        submitted_by: str,
        activity_count: int,
        total_cost: Decimal,
        bkm_id: UUID,
        region_code: str,
        plan_version: int,
    ) -> None:
        self.status = "submitted"

    def endorse(
        self,
        *,
        meeting_date: dt.date,
        attendance: int,
        minutes_sha256: str,
        endorsed_by: str,
        today: dt.date,
    ) -> None:
        if self.status != "submitted":
            raise PlanStateError(
                f"only a submitted plan can be endorsed; this one is {self.status}",
                field="status",
                rule="plan-submitted",
            )
        if meeting_date > today:
            raise PlanStateError(
                "the rembug warga cannot be dated in the future",
                field="meeting_date",
                rule="meeting-held",
            )
        if attendance < 1:
            raise PlanStateError(
                "a rembug warga has at least one attendee", field="attendance", rule="attendance"
            )
        if not _SHA256.fullmatch(minutes_sha256):
            raise PlanStateError(
                "the minutes hash must be a lower-case hex SHA-256",
                field="minutes_sha256",
                rule="sha256",
            )
        self._endorsed(
            meeting_date=meeting_date,
            attendance=attendance,
            minutes_sha256=minutes_sha256,
            endorsed_by=endorsed_by,
            **self._context(),
        )

    @event("Endorsed")
    def _endorsed(
        self,
        meeting_date: dt.date,
        attendance: int,
        minutes_sha256: str,
        endorsed_by: str,
        bkm_id: UUID,
        region_code: str,
        plan_version: int,
    ) -> None:
        self.status = "endorsed"
        self.endorsement = Endorsement(meeting_date, attendance, minutes_sha256, endorsed_by)

    def open_revision(self, opened_by: str) -> None:
        self._require_endorsed("revise")
        context = self._context() | {"plan_version": self.number + 1}
        self._revision_opened(previous_version=self.number, opened_by=opened_by, **context)

    @event("RevisionOpened")
    def _revision_opened(
        self,
        previous_version: int,
        opened_by: str,
        bkm_id: UUID,
        region_code: str,
        plan_version: int,
    ) -> None:
        self.earlier.append(
            PlanVersion(previous_version, "superseded", dict(self.activities), self.endorsement)
        )
        self.number = plan_version
        self.status = "draft"
        self.endorsement = None

    def version_view(self, number: int | None = None) -> PlanVersion:
        """Any version of the plan; the current one by default."""
        if number is None or number == self.number:
            return PlanVersion(self.number, self.status, dict(self.activities), self.endorsement)
        if 1 <= number < self.number:
            return self.earlier[number - 1]
        raise NotFoundError(f"plan {self.id} has no version {number}")

    # -- channelling -----------------------------------------------------------------------------

    def open_channelling(self, activity_id: UUID, amount_needed: Decimal, opened_by: str) -> None:
        """Seek partners' funding for what swadaya, BLM and earlier commitments leave open."""
        self._require_endorsed("open activities of")
        activity = self._activity(activity_id)
        current = self.channelling.get(activity_id)
        if current is not None and current.status != "withdrawn":
            raise ChannellingError(
                f"the activity is already open for channelling ({current.status})",
                field="activity_id",
                rule="not-already-open",
            )
        committed = current.committed if current is not None else ZERO
        remaining = activity.estimated_cost - activity.planned_funding - committed
        if amount_needed <= 0:
            raise ChannellingError(
                "the amount needed must be greater than zero",
                field="amount_needed",
                rule="positive-money",
            )
        if amount_needed > remaining:
            raise ChannellingError(
                f"the amount needed {amount_needed} is above what remains: {remaining} "
                "(cost minus swadaya, BLM and funding already committed)",
                field="amount_needed",
                rule="amount-within-remaining",
            )
        # Agreements and matches outlive a withdrawal: partnerships and matching still own them.
        after = Channelling(amount_needed=amount_needed, seeking=True)
        if current is not None:
            after = dataclasses.replace(current, amount_needed=amount_needed, seeking=True)
        self._channelling_opened(
            activity_id=activity_id,
            amount_needed=amount_needed,
            opened_by=opened_by,
            activity=activity.state(),
            channelling=after.state(),
            **self._context(),
        )

    @event("ChannellingOpened")
    def _channelling_opened(
        self,
        activity_id: UUID,
        amount_needed: Decimal,
        opened_by: str,
        activity: dict[str, Any],
        channelling: dict[str, Any],
        bkm_id: UUID,
        region_code: str,
        plan_version: int,
    ) -> None:
        self.channelling[activity_id] = Channelling.from_state(channelling)

    def withdraw_channelling(self, activity_id: UUID, withdrawn_by: str) -> None:
        current = self._channelled(activity_id)
        if not current.open_for_partners:
            raise ChannellingError(
                f"only an activity no partner has committed to can be withdrawn; "
                f"this one is {current.status}",
                field="activity_id",
                rule="nothing-committed",
            )
        after = dataclasses.replace(current, seeking=False)
        self._channelling_withdrawn(
            activity_id=activity_id,
            withdrawn_by=withdrawn_by,
            channelling=after.state(),
            bkm_id=self.bkm_id,
            region_code=self.region_code,
        )

    @event("ChannellingWithdrawn")
    def _channelling_withdrawn(
        self,
        activity_id: UUID,
        withdrawn_by: str,
        channelling: dict[str, Any],
        bkm_id: UUID,
        region_code: str,
    ) -> None:
        self.channelling[activity_id] = Channelling.from_state(channelling)

    # -- funding, as partnerships report it ------------------------------------------------------

    def record_agreement(
        self,
        activity_id: UUID,
        agreement_id: UUID,
        partner_id: UUID,
        partner_name: str,
        amount: Decimal,
    ) -> None:
        current = self._channelled(activity_id)
        signed = Agreement(partner_id=partner_id, partner_name=partner_name, amount=amount)
        after = current.with_agreement(str(agreement_id), signed)
        self._funding("agreement_signed", activity_id, agreement_id, signed, amount, after)

    def record_disbursement(self, activity_id: UUID, agreement_id: UUID, amount: Decimal) -> None:
        current = self._channelled(activity_id)
        before = current.agreement(str(agreement_id))
        changed = dataclasses.replace(before, disbursed=before.disbursed + amount)
        after = current.with_agreement(str(agreement_id), changed)
        self._funding("tranche_disbursed", activity_id, agreement_id, changed, amount, after)

    def record_completion(
        self, activity_id: UUID, agreement_id: UUID, total_disbursed: Decimal
    ) -> None:
        current = self._channelled(activity_id)
        before = current.agreement(str(agreement_id))
        changed = dataclasses.replace(before, disbursed=total_disbursed, state="completed")
        after = current.with_agreement(str(agreement_id), changed)
        self._funding(
            "partnership_completed", activity_id, agreement_id, changed, total_disbursed, after
        )

    def record_termination(self, activity_id: UUID, agreement_id: UUID, returned: Decimal) -> None:
        current = self._channelled(activity_id)
        before = current.agreement(str(agreement_id))
        changed = dataclasses.replace(before, returned=returned, state="terminated")
        after = current.with_agreement(str(agreement_id), changed)
        self._funding("partnership_terminated", activity_id, agreement_id, changed, returned, after)

    def _funding(
        self,
        cause: str,
        activity_id: UUID,
        agreement_id: UUID,
        agreement: Agreement,
        amount: Decimal,
        after: Channelling,
    ) -> None:
        self._funding_changed(
            activity_id=activity_id,
            cause=cause,
            agreement_id=agreement_id,
            partner_id=agreement.partner_id,
            partner_name=agreement.partner_name,
            amount=amount,
            channelling=after.state(),
            bkm_id=self.bkm_id,
            region_code=self.region_code,
        )

    @event("FundingChanged")
    def _funding_changed(
        self,
        activity_id: UUID,
        cause: str,
        agreement_id: UUID,
        partner_id: UUID,
        partner_name: str,
        amount: Decimal,
        channelling: dict[str, Any],
        bkm_id: UUID,
        region_code: str,
    ) -> None:
        self.channelling[activity_id] = Channelling.from_state(channelling)

    # -- matches, as matching reports them -------------------------------------------------------

    def record_match(
        self,
        activity_id: UUID,
        match_id: UUID,
        opportunity_id: UUID,
        partner_id: UUID,
        score: int,
    ) -> None:
        """A proposed match; one already open (matching said it again) changes nothing."""
        current = self._channelled(activity_id)
        if str(match_id) in current.matches:
            return
        match = Match(opportunity_id=opportunity_id, partner_id=partner_id, score=score)
        after = current.with_match(str(match_id), match)
        self._matches("match_proposed", activity_id, match_id, match, score, after)

    def record_match_withdrawal(self, activity_id: UUID, match_id: UUID) -> None:
        """A withdrawn match; one not open here (never proposed, or withdrawn already)
        changes nothing."""
        current = self._channelled(activity_id)
        match = current.matches.get(str(match_id))
        if match is None:
            return
        after = current.without_match(str(match_id))
        self._matches("match_withdrawn", activity_id, match_id, match, None, after)

    def _matches(
        self,
        cause: str,
        activity_id: UUID,
        match_id: UUID,
        match: Match,
        score: int | None,
        after: Channelling,
    ) -> None:
        self._matches_changed(
            activity_id=activity_id,
            cause=cause,
            match_id=match_id,
            opportunity_id=match.opportunity_id,
            partner_id=match.partner_id,
            score=score,
            channelling=after.state(),
            bkm_id=self.bkm_id,
            region_code=self.region_code,
        )

    @event("MatchesChanged")
    def _matches_changed(
        self,
        activity_id: UUID,
        cause: str,
        match_id: UUID,
        opportunity_id: UUID,
        partner_id: UUID,
        score: int | None,
        channelling: dict[str, Any],
        bkm_id: UUID,
        region_code: str,
    ) -> None:
        self.channelling[activity_id] = Channelling.from_state(channelling)

    # -- totals ----------------------------------------------------------------------------------

    def totals(self) -> dict[str, Any]:
        """The current version's money by tridaya aspect and by funding source."""
        by_aspect: dict[str, dict[str, Decimal]] = {}
        partners: dict[UUID, dict[str, Any]] = {}
        swadaya = blm = cost = ZERO
        for activity_id, activity in self.activities.items():
            channelled = self.channelling.get(activity_id)
            committed = channelled.committed if channelled is not None else ZERO
            row = by_aspect.setdefault(
                activity.aspect,
                {"estimated_cost": ZERO, "swadaya": ZERO, "blm": ZERO, "partners": ZERO},
            )
            row["estimated_cost"] += activity.estimated_cost
            row["swadaya"] += activity.swadaya
            row["blm"] += activity.blm_amount
            row["partners"] += committed
            cost += activity.estimated_cost
            swadaya += activity.swadaya
            blm += activity.blm_amount
            for agreement in channelled.agreements.values() if channelled else ():
                partner = partners.setdefault(
                    agreement.partner_id,
                    {"partner_name": agreement.partner_name, "committed": ZERO, "disbursed": ZERO},
                )
                partner["committed"] += agreement.committed
                partner["disbursed"] += agreement.disbursed
        from_partners = sum((p["committed"] for p in partners.values()), ZERO)
        return {
            "estimated_cost": cost,
            "by_aspect": by_aspect,
            "swadaya": swadaya,
            "blm": blm,
            "partners": partners,
            "unfunded": max(ZERO, cost - swadaya - blm - from_partners),
        }

    # -- guards ----------------------------------------------------------------------------------

    def _require_draft(self, action: str) -> None:
        if self.status != "draft":
            raise PlanStateError(
                f"cannot {action} a {self.status} plan; open a revision first",
                field="status",
                rule="plan-draft",
            )

    def _require_endorsed(self, action: str) -> None:
        if self.status != "endorsed":
            raise PlanStateError(
                f"cannot {action} a {self.status} plan: it must be endorsed",
                field="status",
                rule="plan-endorsed",
            )

    def _activity(self, activity_id: UUID) -> Activity:
        try:
            return self.activities[activity_id]
        except KeyError:
            raise NotFoundError(f"plan {self.id} has no activity {activity_id}") from None

    def _require_editable(self, activity_id: UUID) -> None:
        self._activity(activity_id)
        channelled = self.channelling.get(activity_id)
        if channelled is not None and channelled.status != "withdrawn":
            raise ChannellingError(
                f"the activity is open for channelling ({channelled.status}); withdraw it first",
                field="activity_id",
                rule="activity-in-channelling",
            )

    def _channelled(self, activity_id: UUID) -> Channelling:
        try:
            return self.channelling[activity_id]
        except KeyError:
            raise ChannellingError(
                f"activity {activity_id} was never opened for channelling",
                field="activity_id",
                rule="activity-open-for-channelling",
            ) from None


# -- BKMs as registry reports them ---------------------------------------------------------------


class KnownBkm(Aggregate):
    """A BKM planning learned from registry's events (same id as in registry).

    It also holds the periods of the BKM's plans, so two plans of one BKM never overlap:
    drafting a plan saves this aggregate too, and a concurrent draft loses on its version.
    """

    @event("Learned")
    def __init__(self, id: UUID, region_code: str, status: str) -> None:
        self.region_code = region_code
        self.status = status
        self.status_before_suspension = status
        self.periods: dict[UUID, tuple[int, int]] = {}

    def follow(self, status: str) -> None:
        """Take the status registry reports; a reinstatement returns to the earlier one."""
        if status == "reinstated":
            status = self.status_before_suspension
        if status != self.status:
            self._status_changed(status=status, previous=self.status)

    @event("StatusChanged")
    def _status_changed(self, status: str, previous: str) -> None:
        if status == "suspended":
            self.status_before_suspension = previous
        self.status = status

    def claim_period(self, plan_id: UUID, start_year: int, end_year: int) -> None:
        if self.status == "suspended":
            raise PlanStateError(
                "a suspended BKM cannot draft a plan", field="bkm_id", rule="bkm-not-suspended"
            )
        for other, (start, end) in self.periods.items():
            if start_year <= end and start <= end_year:
                raise ConflictError(
                    f"the BKM already has plan {other} for {start}-{end}",
                    field="start_year",
                    rule="one-plan-per-period",
                )
        self._period_claimed(plan_id=plan_id, start_year=start_year, end_year=end_year)

    @event("PeriodClaimed")
    def _period_claimed(self, plan_id: UUID, start_year: int, end_year: int) -> None:
        self.periods[plan_id] = (start_year, end_year)

    def require_verified(self) -> None:
        if self.status != "verified":
            raise ChannellingError(
                f"only a verified BKM can open activities for channelling; this one is "
                f"{self.status}",
                field="bkm_id",
                rule="bkm-verified",
            )
