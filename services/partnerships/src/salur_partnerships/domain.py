"""Partnerships aggregates: a BKM's proposal to a partner, and the agreement that follows.

Money moves here, so every rule is a small named guard that raises before any event is
triggered: a refused command changes nothing. Every event carries `parties` (ids, names,
activity, aspect, region), so the public event made from it needs no other state.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from salur_kit.errors import ConflictError, NotFoundError, RuleViolationError

from salur_partnerships.money import ZERO, MoneyRuleError, require_positive

_SHA256 = re.compile(r"[0-9a-f]{64}")


class ProposalStateError(RuleViolationError):
    """A proposal command its current status does not allow."""


class AgreementStateError(RuleViolationError):
    """An agreement command out of order (before signatures, after closing, ...)."""


def require_sha256(value: str, field: str) -> None:
    if not _SHA256.fullmatch(value):
        raise RuleViolationError(
            f"{field} must be a lower-case hex SHA-256", field=field, rule="sha256"
        )


# -- proposals ---------------------------------------------------------------------------------


class Proposal(Aggregate):
    """submitted -> accepted | rejected | revision_requested (-> revised: submitted again);
    withdrawn by the BKM before acceptance; an accepted proposal yields one agreement."""

    @event("Submitted")
    def __init__(
        self,
        id: UUID,
        parties: dict[str, Any],
        match_id: UUID | None,
        amount_requested: Decimal,
        swadaya_amount: Decimal,
        work_plan: str,
        submitted_by: str,
    ) -> None:
        self.parties = parties
        self.match_id = match_id
        self.amount_requested = amount_requested
        self.swadaya_amount = swadaya_amount
        self.work_plan = work_plan
        self.revision = 1
        self.status = "submitted"
        self.reason: str | None = None
        self.agreement_id: UUID | None = None

    @property
    def bkm_id(self) -> UUID:
        return UUID(str(self.parties["bkm_id"]))

    @property
    def partner_id(self) -> UUID:
        return UUID(str(self.parties["partner_id"]))

    def _require(self, action: str, *statuses: str) -> None:
        if self.status not in statuses:
            raise ProposalStateError(
                f"cannot {action} a {self.status} proposal",
                field="status",
                rule="proposal-" + "-or-".join(statuses),
            )

    def accept(self, accepted_by: str) -> None:
        self._require("accept", "submitted")
        self._accepted(
            parties=self.parties, accepted_by=accepted_by, amount_requested=self.amount_requested
        )

    @event("Accepted")
    def _accepted(
        self, parties: dict[str, Any], accepted_by: str, amount_requested: Decimal
    ) -> None:
        self.status = "accepted"

    def reject(self, reason: str, rejected_by: str) -> None:
        self._require("reject", "submitted")
        self._rejected(parties=self.parties, reason=reason, rejected_by=rejected_by)

    @event("Rejected")
    def _rejected(self, parties: dict[str, Any], reason: str, rejected_by: str) -> None:
        self.status = "rejected"
        self.reason = reason

    def request_revision(self, reason: str, requested_by: str) -> None:
        self._require("ask for a revision of", "submitted")
        self._revision_requested(parties=self.parties, reason=reason, requested_by=requested_by)

    @event("RevisionRequested")
    def _revision_requested(self, parties: dict[str, Any], reason: str, requested_by: str) -> None:
        self.status = "revision_requested"
        self.reason = reason

    def revise(
        self, amount_requested: Decimal, swadaya_amount: Decimal, work_plan: str, revised_by: str
    ) -> None:
        self._require("revise", "revision_requested")
        self._revised(
            parties=self.parties,
            amount_requested=amount_requested,
            swadaya_amount=swadaya_amount,
            work_plan=work_plan,
            revised_by=revised_by,
            revision=self.revision + 1,
        )

    @event("Revised")
    def _revised(
        self,
        parties: dict[str, Any],
        amount_requested: Decimal,
        swadaya_amount: Decimal,
        work_plan: str,
        revised_by: str,
        revision: int,
    ) -> None:
        self.amount_requested = amount_requested
        self.swadaya_amount = swadaya_amount
        self.work_plan = work_plan
        self.revision = revision
        self.status = "submitted"

    def withdraw(self, withdrawn_by: str) -> None:
        self._require("withdraw", "submitted", "revision_requested")
        self._withdrawn(parties=self.parties, withdrawn_by=withdrawn_by)

    @event("Withdrawn")
    def _withdrawn(self, parties: dict[str, Any], withdrawn_by: str) -> None:
        self.status = "withdrawn"

    def record_agreement(self, agreement_id: UUID) -> None:
        self._require("draw an agreement from", "accepted")
        if self.agreement_id is not None:
            raise ConflictError(
                f"the proposal already has agreement {self.agreement_id}",
                field="proposal_id",
                rule="one-agreement-per-proposal",
            )
        self._agreement_drawn(agreement_id=agreement_id)

    @event("AgreementDrawn")
    def _agreement_drawn(self, agreement_id: UUID) -> None:
        self.agreement_id = agreement_id


# -- agreements --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    number: int
    tranche_number: int
    amount_spent: Decimal
    status: str  # submitted -> accepted | rejected


@dataclass(frozen=True)
class Terms:
    """What the partner drew up from the accepted proposal."""

    amount: Decimal
    tranches: list[dict[str, Any]]
    report_before_next_tranche: bool
    reporting_duty: str
    start_date: dt.date
    end_date: dt.date
    document_sha256: str

    def check(self) -> None:
        require_positive(self.amount, "amount")
        if sum((t["amount"] for t in self.tranches), ZERO) != self.amount:
            raise MoneyRuleError(
                "the tranches must sum exactly to the amount",
                field="tranches",
                rule="tranches-sum-to-amount",
            )
        if self.end_date < self.start_date:
            raise RuleViolationError(
                "the end date is before the start date", field="end_date", rule="dates-ordered"
            )
        require_sha256(self.document_sha256, "document_sha256")


class Agreement(Aggregate):
    """draft -> in_force (both signed) -> completed | terminated.

    Invariants: Σ disbursed ≤ amount; Σ spent (reports not rejected) ≤ Σ disbursed; tranches
    go out in order, each once, at its scheduled amount; with `report_before_next_tranche`
    tranche n+1 waits for an accepted report on tranche n.
    """

    @event("Drafted")
    def __init__(
        self,
        id: UUID,
        parties: dict[str, Any],
        amount: Decimal,
        tranches: list[dict[str, Any]],
        report_before_next_tranche: bool,
        reporting_duty: str,
        start_date: dt.date,
        end_date: dt.date,
        document_sha256: str,
        drafted_by: str,
    ) -> None:
        self.parties = parties
        self.terms = Terms(
            amount,
            tranches,
            report_before_next_tranche,
            reporting_duty,
            start_date,
            end_date,
            document_sha256,
        )
        self.status = "draft"
        self.signed: dict[str, tuple[str, dt.date]] = {}
        self.disbursed: dict[int, dict[str, Any]] = {}
        self.received: set[int] = set()
        self.reports: dict[int, Report] = {}
        self.returned = ZERO

    @staticmethod
    def draft(id: UUID, parties: dict[str, Any], terms: Terms, drafted_by: str) -> Agreement:
        terms.check()
        return Agreement(
            id=id,
            parties=parties,
            amount=terms.amount,
            tranches=terms.tranches,
            report_before_next_tranche=terms.report_before_next_tranche,
            reporting_duty=terms.reporting_duty,
            start_date=terms.start_date,
            end_date=terms.end_date,
            document_sha256=terms.document_sha256,
            drafted_by=drafted_by,
        )

    # -- figures -------------------------------------------------------------------------------

    @property
    def bkm_id(self) -> UUID:
        return UUID(str(self.parties["bkm_id"]))

    @property
    def partner_id(self) -> UUID:
        return UUID(str(self.parties["partner_id"]))

    @property
    def opportunity_id(self) -> UUID:
        return UUID(str(self.parties["opportunity_id"]))

    @property
    def total_disbursed(self) -> Decimal:
        return sum((d["amount"] for d in self.disbursed.values()), ZERO)

    @property
    def total_reported(self) -> Decimal:
        """Spending that counts against what was disbursed: every report not rejected."""
        return sum((r.amount_spent for r in self.reports.values() if r.status != "rejected"), ZERO)

    @property
    def total_spent(self) -> Decimal:
        """Spending the partner accepted."""
        return sum((r.amount_spent for r in self.reports.values() if r.status == "accepted"), ZERO)

    @property
    def committed(self) -> Decimal:
        """A terminated agreement keeps only what stayed with the BKM."""
        if self.status == "terminated":
            return self.total_disbursed - self.returned
        return self.terms.amount

    def _signature_terms(self) -> dict[str, Any]:
        t = self.terms
        return {
            "amount": t.amount,
            "tranches": t.tranches,
            "report_before_next_tranche": t.report_before_next_tranche,
            "start_date": t.start_date,
            "end_date": t.end_date,
            "document_sha256": t.document_sha256,
        }

    # -- signatures ----------------------------------------------------------------------------

    def sign(self, party: str, signed_by: str, signed_on: dt.date) -> None:
        """`party` is "partner" or "bkm"; the second signature puts the agreement in force."""
        if self.status != "draft":
            raise AgreementStateError(
                f"the agreement is {self.status}; only a draft is signed",
                field="status",
                rule="agreement-draft",
            )
        if party in self.signed:
            raise ConflictError(
                f"the {party} has already signed", field="signature", rule="sign-once"
            )
        trigger = self._partner_signed if party == "partner" else self._bkm_signed
        trigger(
            parties=self.parties,
            signed_by=signed_by,
            signed_on=signed_on,
            **self._signature_terms(),
        )
        if len(self.signed) == 2:
            self._in_force(
                parties=self.parties,
                amount=self.terms.amount,
                signed_on=signed_on,
                start_date=self.terms.start_date,
                end_date=self.terms.end_date,
                tranche_count=len(self.terms.tranches),
            )

    @event("PartnerSigned")
    def _partner_signed(
        self,
        parties: dict[str, Any],
        signed_by: str,
        signed_on: dt.date,
        amount: Decimal,
        tranches: list[dict[str, Any]],
        report_before_next_tranche: bool,
        start_date: dt.date,
        end_date: dt.date,
        document_sha256: str,
    ) -> None:
        self.signed["partner"] = (signed_by, signed_on)

    @event("BkmSigned")
    def _bkm_signed(
        self,
        parties: dict[str, Any],
        signed_by: str,
        signed_on: dt.date,
        amount: Decimal,
        tranches: list[dict[str, Any]],
        report_before_next_tranche: bool,
        start_date: dt.date,
        end_date: dt.date,
        document_sha256: str,
    ) -> None:
        self.signed["bkm"] = (signed_by, signed_on)

    @event("InForce")
    def _in_force(
        self,
        parties: dict[str, Any],
        amount: Decimal,
        signed_on: dt.date,
        start_date: dt.date,
        end_date: dt.date,
        tranche_count: int,
    ) -> None:
        self.status = "in_force"

    # -- tranches ------------------------------------------------------------------------------

    def _require_in_force(self, action: str) -> None:
        if self.status != "in_force":
            raise AgreementStateError(
                f"cannot {action}: the agreement is {self.status}"
                + (" (both parties must sign first)" if self.status == "draft" else ""),
                field="status",
                rule="agreement-in-force",
            )

    def _scheduled(self, number: int) -> dict[str, Any]:
        if not 1 <= number <= len(self.terms.tranches):
            raise NotFoundError(f"the agreement has no tranche {number}")
        return self.terms.tranches[number - 1]

    def disburse(
        self,
        number: int,
        amount: Decimal,
        transfer_reference: str,
        disbursed_on: dt.date,
        destination_account: str,
    ) -> None:
        self._require_in_force("disburse a tranche")
        scheduled = self._scheduled(number)
        if number in self.disbursed:
            raise ConflictError(
                f"tranche {number} was already disbursed", field="tranche", rule="disburse-once"
            )
        if number != len(self.disbursed) + 1:
            raise AgreementStateError(
                f"tranche {len(self.disbursed) + 1} comes before tranche {number}",
                field="tranche",
                rule="tranches-in-order",
            )
        if self.total_disbursed + amount > self.terms.amount:
            raise MoneyRuleError(
                f"disbursing {amount} would bring the total to {self.total_disbursed + amount}, "
                f"beyond the agreed {self.terms.amount}",
                field="amount",
                rule="disbursed-within-agreement",
            )
        if amount != scheduled["amount"]:
            raise MoneyRuleError(
                f"tranche {number} is scheduled at {scheduled['amount']}, not {amount}",
                field="amount",
                rule="tranche-as-scheduled",
            )
        if (
            number > 1
            and self.terms.report_before_next_tranche
            and not self._accepted_for(number - 1)
        ):
            raise AgreementStateError(
                f"tranche {number} waits for an accepted realisation report on tranche "
                f"{number - 1}",
                field="tranche",
                rule="previous-report-accepted",
            )
        if any(d["transfer_reference"] == transfer_reference for d in self.disbursed.values()):
            raise ConflictError(
                f"transfer {transfer_reference} is already recorded for another tranche",
                field="transfer_reference",
                rule="transfer-once",
            )
        self._disbursed(
            parties=self.parties,
            tranche_number=number,
            amount=amount,
            transfer_reference=transfer_reference,
            disbursed_on=disbursed_on,
            destination_account=destination_account,
            total_disbursed=self.total_disbursed + amount,
        )

    @event("TrancheDisbursed")
    def _disbursed(
        self,
        parties: dict[str, Any],
        tranche_number: int,
        amount: Decimal,
        transfer_reference: str,
        disbursed_on: dt.date,
        destination_account: str,
        total_disbursed: Decimal,
    ) -> None:
        self.disbursed[tranche_number] = {
            "amount": amount,
            "transfer_reference": transfer_reference,
            "disbursed_on": disbursed_on,
        }

    def confirm_receipt(self, number: int, received_on: dt.date, confirmed_by: str) -> None:
        self._scheduled(number)
        tranche = self.disbursed.get(number)
        if tranche is None:
            raise AgreementStateError(
                f"tranche {number} has not been disbursed", field="tranche", rule="disbursed"
            )
        if number in self.received:
            raise ConflictError(
                f"receipt of tranche {number} is already confirmed",
                field="tranche",
                rule="confirm-once",
            )
        if received_on < tranche["disbursed_on"]:
            raise RuleViolationError(
                "money cannot arrive before it was sent", field="received_on", rule="dates-ordered"
            )
        self._receipt_confirmed(
            parties=self.parties,
            tranche_number=number,
            amount=tranche["amount"],
            received_on=received_on,
            confirmed_by=confirmed_by,
        )

    @event("ReceiptConfirmed")
    def _receipt_confirmed(
        self,
        parties: dict[str, Any],
        tranche_number: int,
        amount: Decimal,
        received_on: dt.date,
        confirmed_by: str,
    ) -> None:
        self.received.add(tranche_number)

    # -- realisation ---------------------------------------------------------------------------

    def _accepted_for(self, tranche: int) -> bool:
        return any(
            r.tranche_number == tranche and r.status == "accepted" for r in self.reports.values()
        )

    def report(
        self,
        tranche_number: int,
        lines: list[dict[str, Any]],
        physical_progress_percent: int,
        beneficiaries_reached: int,
        reported_by: str,
        reported_on: dt.date,
    ) -> int:
        self._require_in_force("report realisation")
        self._scheduled(tranche_number)
        if tranche_number not in self.received:
            raise AgreementStateError(
                f"confirm receipt of tranche {tranche_number} before reporting on it",
                field="tranche_number",
                rule="receipt-confirmed",
            )
        if any(r.status == "submitted" for r in self.reports.values()):
            raise AgreementStateError(
                "a realisation report already awaits the partner's review",
                field="tranche_number",
                rule="one-report-in-review",
            )
        if self._accepted_for(tranche_number):
            raise ConflictError(
                f"tranche {tranche_number} already has an accepted report",
                field="tranche_number",
                rule="one-accepted-report-per-tranche",
            )
        if not lines:
            raise MoneyRuleError("a report needs at least one spending line", field="lines")
        for index, line in enumerate(lines):
            require_positive(line["amount"], f"lines[{index}].amount")
            require_sha256(line["evidence_sha256"], f"lines[{index}].evidence_sha256")
        spent = sum((line["amount"] for line in lines), ZERO)
        if self.total_reported + spent > self.total_disbursed:
            raise MoneyRuleError(
                f"reported spending would reach {self.total_reported + spent}, beyond the "
                f"{self.total_disbursed} disbursed",
                field="lines",
                rule="spent-within-disbursed",
            )
        number = len(self.reports) + 1
        self._reported(
            parties=self.parties,
            report_number=number,
            tranche_number=tranche_number,
            amount_spent=spent,
            lines=lines,
            physical_progress_percent=physical_progress_percent,
            beneficiaries_reached=beneficiaries_reached,
            reported_by=reported_by,
            reported_on=reported_on,
        )
        return number

    @event("RealisationReported")
    def _reported(
        self,
        parties: dict[str, Any],
        report_number: int,
        tranche_number: int,
        amount_spent: Decimal,
        lines: list[dict[str, Any]],
        physical_progress_percent: int,
        beneficiaries_reached: int,
        reported_by: str,
        reported_on: dt.date,
    ) -> None:
        self.reports[report_number] = Report(
            report_number, tranche_number, amount_spent, "submitted"
        )

    def _in_review(self, number: int) -> Report:
        found = self.reports.get(number)
        if found is None:
            raise NotFoundError(f"the agreement has no report {number}")
        if found.status != "submitted":
            raise AgreementStateError(
                f"report {number} was already {found.status}",
                field="status",
                rule="report-in-review",
            )
        return found

    def accept_report(self, number: int, accepted_by: str, accepted_on: dt.date) -> None:
        self._require_in_force("accept a report")
        found = self._in_review(number)
        self._report_accepted(
            parties=self.parties,
            report_number=number,
            tranche_number=found.tranche_number,
            amount_spent=found.amount_spent,
            total_spent=self.total_spent + found.amount_spent,
            accepted_by=accepted_by,
        )
        last = len(self.terms.tranches)
        if self.total_disbursed == self.terms.amount and self._accepted_for(last):
            self._completed(
                parties=self.parties,
                total_disbursed=self.total_disbursed,
                total_spent=self.total_spent,
                completed_on=accepted_on,
            )

    @event("RealisationAccepted")
    def _report_accepted(
        self,
        parties: dict[str, Any],
        report_number: int,
        tranche_number: int,
        amount_spent: Decimal,
        total_spent: Decimal,
        accepted_by: str,
    ) -> None:
        r = self.reports[report_number]
        self.reports[report_number] = Report(r.number, r.tranche_number, r.amount_spent, "accepted")

    def reject_report(self, number: int, reason: str, rejected_by: str) -> None:
        self._require_in_force("reject a report")
        found = self._in_review(number)
        self._report_rejected(
            parties=self.parties,
            report_number=number,
            tranche_number=found.tranche_number,
            amount_spent=found.amount_spent,
            reason=reason,
            rejected_by=rejected_by,
        )

    @event("RealisationRejected")
    def _report_rejected(
        self,
        parties: dict[str, Any],
        report_number: int,
        tranche_number: int,
        amount_spent: Decimal,
        reason: str,
        rejected_by: str,
    ) -> None:
        r = self.reports[report_number]
        self.reports[report_number] = Report(r.number, r.tranche_number, r.amount_spent, "rejected")

    # -- closing -------------------------------------------------------------------------------

    @event("Completed")
    def _completed(
        self,
        parties: dict[str, Any],
        total_disbursed: Decimal,
        total_spent: Decimal,
        completed_on: dt.date,
    ) -> None:
        self.status = "completed"

    def terminate(
        self,
        reason: str,
        returned_amount: Decimal,
        return_transfer_reference: str | None,
        terminated_on: dt.date,
    ) -> None:
        self._require_in_force("terminate")
        if any(r.status == "submitted" for r in self.reports.values()):
            raise AgreementStateError(
                "review the pending realisation report before terminating",
                field="status",
                rule="no-report-in-review",
            )
        unspent = self.total_disbursed - self.total_spent
        if returned_amount != unspent:
            raise MoneyRuleError(
                f"the unspent amount is {unspent} (disbursed {self.total_disbursed} minus "
                f"accepted spending {self.total_spent}); {returned_amount} was stated",
                field="returned_amount",
                rule="return-unspent",
            )
        if unspent > 0 and not return_transfer_reference:
            raise MoneyRuleError(
                "a returned amount needs the transfer reference of the return",
                field="return_transfer_reference",
                rule="return-referenced",
            )
        self._terminated(
            parties=self.parties,
            reason=reason,
            returned_amount=returned_amount,
            return_transfer_reference=return_transfer_reference if unspent > 0 else None,
            amount=self.terms.amount,
            total_disbursed=self.total_disbursed,
            total_spent=self.total_spent,
            terminated_on=terminated_on,
        )

    @event("Terminated")
    def _terminated(
        self,
        parties: dict[str, Any],
        reason: str,
        returned_amount: Decimal,
        return_transfer_reference: str | None,
        amount: Decimal,
        total_disbursed: Decimal,
        total_spent: Decimal,
        terminated_on: dt.date,
    ) -> None:
        self.status = "terminated"
        self.returned = returned_amount
