"""Partnerships' story and every money rule, run twice: in memory and on real Postgres.

Other services' facts reach the application through the same tracked effects the Kafka
consumer uses. After each refused command the aggregate is read again: nothing changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import Decimal
from uuid import UUID

import pytest
from partnerships_world import ACCOUNT, REGION, World, fact
from salur_contracts import matching, opportunities, planning, registry
from salur_contracts import partnerships as contract
from salur_kit.auth import Principal, Role
from salur_kit.errors import ConflictError, ForbiddenError, RuleViolationError, StaleVersionError
from salur_partnerships.application import PartnershipsApplication
from salur_partnerships.domain import Terms
from salur_partnerships.integration import to_integration
from salur_partnerships.money import PlannedTranche, schedule


@pytest.fixture
def app(event_store_env: Mapping[str, str]) -> Iterator[PartnershipsApplication]:
    application = PartnershipsApplication(event_store_env)
    yield application
    application.close()


@pytest.fixture
def world(app: PartnershipsApplication) -> World:
    return World(app).everything()


def public_events(app: PartnershipsApplication, aggregate_id: UUID) -> list[object]:
    """The public events of one aggregate, made from its stored domain events."""
    stored = app.events.get(aggregate_id)
    return [p for p in (to_integration(e) for e in stored) if p is not None]


def unchanged(app: PartnershipsApplication, aggregate_id: UUID, version: int) -> None:
    assert app.repository.get(aggregate_id).version == version


# -- the story ---------------------------------------------------------------------------------


def test_a_partnership_runs_from_proposal_to_completion_and_every_fact_is_public(
    world: World,
) -> None:
    app = world.app
    # Act 1: the BKM proposes, the partner asks for a revision, the BKM revises, it is accepted.
    proposal_id = world.proposal()
    app.request_revision(world.officer, proposal_id, "RAB belum rinci", None)
    app.revise_proposal(
        world.operator,
        proposal_id,
        amount_requested=Decimal("75000000.00"),
        swadaya_amount=Decimal("16000000.00"),
        work_plan="RAB rinci",
        expected=None,
    )
    assert app.accept_proposal(world.officer, proposal_id, None).status == "accepted"
    # Act 2: an agreement in two tranches by percentage, signed by both: in force.
    terms = Terms(
        amount=Decimal("75000000.00"),
        tranches=schedule(
            Decimal("75000000.00"),
            [
                PlannedTranche("ttd", percent=Decimal("33.33")),
                PlannedTranche("lap", percent=Decimal("66.67")),
            ],
        ),
        report_before_next_tranche=True,
        reporting_duty="per tahap",
        start_date=dt.date(2027, 2, 1),
        end_date=dt.date(2027, 12, 31),
        document_sha256="a" * 64,
    )
    agreement_id = app.draw_agreement(world.officer, proposal_id, terms, None).id
    assert app.sign(world.operator, agreement_id, "bkm", None).status == "draft"
    assert app.sign(world.officer, agreement_id, "partner", None).status == "in_force"
    # Act 3: tranche 1, receipt, report accepted; tranche 2, receipt, final report accepted.
    world.disburse(agreement_id, 1, "24997500.00")
    world.receive(agreement_id, 1)
    app.accept_report(
        world.officer, agreement_id, world.report(agreement_id, 1, "24997500.00"), None
    )
    world.disburse(agreement_id, 2, "50002500.00")
    world.receive(agreement_id, 2)
    final = world.report(agreement_id, 2, "30000000.00", "20002500.00")
    agreement = app.accept_report(world.officer, agreement_id, final, None)
    assert agreement.status == "completed"
    assert agreement.total_spent == agreement.total_disbursed == Decimal("75000000.00")
    # Every fact left as a valid public event, with the IATI description filled in.
    published = public_events(app, agreement_id)
    kinds = [type(e).__name__ for e in published]
    assert kinds == [
        "BkmSigned",
        "PartnerSigned",
        "AgreementSigned",
        "TrancheDisbursed",
        "ReceiptConfirmed",
        "RealisationReported",
        "RealisationAccepted",
        "TrancheDisbursed",
        "ReceiptConfirmed",
        "RealisationReported",
        "RealisationAccepted",
        "PartnershipCompleted",
    ]
    signed = published[2]
    assert isinstance(signed, contract.AgreementSigned)
    assert signed.receiver_name
    assert signed.activity_title
    assert signed.region_code
    assert signed.provider_kind == "company_csr"
    assert signed.amount == Decimal("75000000.00")
    disbursed = published[3]
    assert isinstance(disbursed, contract.TrancheDisbursed)
    assert disbursed.destination_account == ACCOUNT
    assert [type(e).__name__ for e in public_events(app, proposal_id)] == [
        "ProposalSubmitted",
        "ProposalRevisionRequested",
        "ProposalRevised",
        "ProposalAccepted",
    ]


def test_a_terminated_partnership_returns_exactly_the_unspent_amount(world: World) -> None:
    app = world.app
    agreement_id = world.signed()
    world.disburse(agreement_id, 1)
    world.receive(agreement_id, 1)
    app.accept_report(
        world.officer, agreement_id, world.report(agreement_id, 1, "10000000.00"), None
    )
    with pytest.raises(RuleViolationError) as refused:
        app.terminate(
            world.officer,
            agreement_id,
            reason="x",
            returned_amount=Decimal("1.00"),
            return_transfer_reference="R",
            expected=None,
        )
    assert refused.value.rule == "return-unspent"
    with pytest.raises(RuleViolationError) as refused:
        app.terminate(
            world.officer,
            agreement_id,
            reason="x",
            returned_amount=Decimal("15000000.00"),
            return_transfer_reference=None,
            expected=None,
        )
    assert refused.value.rule == "return-referenced"
    agreement = app.terminate(
        world.officer,
        agreement_id,
        reason="Lokasi tergusur",
        returned_amount=Decimal("15000000.00"),
        return_transfer_reference="BRI-RET-1",
        expected=None,
    )
    assert agreement.status == "terminated"
    assert agreement.committed == Decimal("10000000.00")
    ended = public_events(app, agreement_id)[-1]
    assert isinstance(ended, contract.PartnershipTerminated)
    assert ended.returned_amount == Decimal("15000000.00")


# -- proposals ---------------------------------------------------------------------------------


def test_refuses_a_proposal_for_an_activity_not_open_for_channelling(world: World) -> None:
    world.activity_id = UUID(int=7)
    with pytest.raises(RuleViolationError) as refused:
        world.proposal()
    assert refused.value.rule == "activity-known"


def test_refuses_a_proposal_above_what_the_activity_needs(world: World) -> None:
    with pytest.raises(RuleViolationError) as refused:
        world.proposal("120000000.00")
    assert refused.value.rule == "amount-within-needed"


def test_refuses_a_proposal_from_an_operator_of_another_bkm(world: World) -> None:
    other = Principal("op", Role.bkm_operator, organisation_id=UUID(int=1))
    with pytest.raises(ForbiddenError):
        world.app.submit_proposal(
            other,
            match_id=None,
            plan_id=world.plan_id,
            activity_id=world.activity_id,
            opportunity_id=world.opportunity_id,
            amount_requested=Decimal("50000000.00"),
            swadaya_amount=Decimal("15000000.00"),
            work_plan="x",
        )


def test_refuses_a_proposal_from_a_bkm_not_verified(app: PartnershipsApplication) -> None:
    world = World(app)
    world.bkm(verified=False)
    world.partner()
    world.activity()
    world.opportunity()
    with pytest.raises(RuleViolationError) as refused:
        world.proposal()
    assert refused.value.rule == "bkm-verified"


def test_refuses_a_proposal_without_the_required_self_help_share(world: World) -> None:
    with pytest.raises(RuleViolationError) as refused:
        world.app.submit_proposal(
            world.operator,
            match_id=None,
            plan_id=world.plan_id,
            activity_id=world.activity_id,
            opportunity_id=world.opportunity_id,
            amount_requested=Decimal("50000000.00"),
            swadaya_amount=Decimal("1.00"),
            work_plan="x",
        )
    assert refused.value.rule == "swadaya-share"


def test_only_the_partner_accepts_and_only_a_submitted_proposal(world: World) -> None:
    proposal_id = world.proposal()
    with pytest.raises(ForbiddenError):
        world.app.accept_proposal(world.operator, proposal_id, None)
    world.app.withdraw_proposal(world.operator, proposal_id, None)
    with pytest.raises(RuleViolationError) as refused:
        world.app.accept_proposal(world.officer, proposal_id, None)
    assert refused.value.rule == "proposal-submitted"


def test_refuses_a_change_made_against_a_stale_version(world: World) -> None:
    proposal_id = world.proposal()
    with pytest.raises(StaleVersionError):
        world.app.accept_proposal(world.officer, proposal_id, 7)
    assert world.app.get_proposal(proposal_id).status == "submitted"


# -- agreements and signatures -------------------------------------------------------------------


def test_refuses_an_agreement_whose_tranches_do_not_sum_to_the_amount(world: World) -> None:
    with pytest.raises(RuleViolationError) as refused:
        world.agreement("75000000.00", ("25000000.00", "25000000.00"))
    assert refused.value.rule == "tranches-sum-to-amount"


def test_refuses_signing_when_the_bank_account_awaits_confirmation(
    app: PartnershipsApplication,
) -> None:
    world = World(app)
    world.bkm(account="awaiting_confirmation")
    world.partner()
    world.activity()
    world.opportunity()
    agreement_id = world.agreement()
    with pytest.raises(RuleViolationError) as refused:
        app.sign(world.officer, agreement_id, "partner", None)
    assert refused.value.rule == "bank-account-confirmed"
    unchanged(app, agreement_id, 1)


def test_refuses_signing_beyond_the_remaining_envelope(app: PartnershipsApplication) -> None:
    world = World(app).everything(envelope="50000000.00")
    agreement_id = world.agreement()
    with pytest.raises(RuleViolationError) as refused:
        app.sign(world.officer, agreement_id, "partner", None)
    assert refused.value.rule == "envelope-remaining"


def test_counts_its_own_signed_agreements_before_opportunities_reports_them(
    app: PartnershipsApplication,
) -> None:
    # Envelope 100M: the first agreement of 75M is signed, and opportunities has not yet
    # published EnvelopeCommitted for it, so only 25M is left for the second.
    world = World(app).everything(envelope="100000000.00")
    first = world.signed("75000000.00")
    second = world.agreement("75000000.00")
    with pytest.raises(RuleViolationError) as refused:
        app.sign(world.officer, second, "partner", None)
    assert refused.value.rule == "envelope-remaining"
    # When opportunities reports the commitment, the reservation becomes its running total.
    world.envelope_committed(first, committed="75000000.00", envelope="100000000.00")
    assert app.known_opportunity(world.opportunity_id).available == Decimal("25000000.00")
    assert app.known_opportunity(world.opportunity_id).reserved == {}


def test_a_party_signs_once(world: World) -> None:
    agreement_id = world.agreement()
    world.app.sign(world.officer, agreement_id, "partner", None)
    with pytest.raises(ConflictError):
        world.app.sign(world.officer, agreement_id, "partner", None)


# -- tranches ----------------------------------------------------------------------------------


def test_refuses_disbursing_before_both_signatures(world: World) -> None:
    agreement_id = world.agreement()
    world.app.sign(world.officer, agreement_id, "partner", None)
    with pytest.raises(RuleViolationError) as refused:
        world.disburse(agreement_id, 1)
    assert refused.value.rule == "agreement-in-force"
    unchanged(world.app, agreement_id, 2)


def test_refuses_a_second_disbursement_of_the_same_tranche(world: World) -> None:
    agreement_id = world.signed()
    world.disburse(agreement_id, 1)
    with pytest.raises(ConflictError) as refused:
        world.disburse(agreement_id, 1)
    assert refused.value.rule == "disburse-once"


def test_refuses_disbursing_beyond_the_agreement(world: World) -> None:
    agreement_id = world.signed(tranches=("25000000.00",) * 3, report_first=False)
    with pytest.raises(RuleViolationError) as refused:
        world.disburse(agreement_id, 1, "80000000.00")
    assert refused.value.rule == "disbursed-within-agreement"


def test_refuses_a_tranche_at_another_amount_than_scheduled(world: World) -> None:
    agreement_id = world.signed()
    with pytest.raises(RuleViolationError) as refused:
        world.disburse(agreement_id, 1, "20000000.00")
    assert refused.value.rule == "tranche-as-scheduled"


def test_refuses_the_next_tranche_before_the_report_is_accepted(world: World) -> None:
    agreement_id = world.signed()
    world.disburse(agreement_id, 1)
    world.receive(agreement_id, 1)
    world.report(agreement_id, 1, "20000000.00")
    with pytest.raises(RuleViolationError) as refused:
        world.disburse(agreement_id, 2)
    assert refused.value.rule == "previous-report-accepted"


def test_the_next_tranche_needs_no_report_when_the_agreement_says_so(world: World) -> None:
    agreement_id = world.signed(report_first=False)
    world.disburse(agreement_id, 1)
    world.disburse(agreement_id, 2)
    assert world.app.get_agreement(agreement_id).total_disbursed == Decimal("50000000.00")


def test_refuses_tranches_out_of_order(world: World) -> None:
    agreement_id = world.signed(report_first=False)
    with pytest.raises(RuleViolationError) as refused:
        world.disburse(agreement_id, 2)
    assert refused.value.rule == "tranches-in-order"


def test_refuses_a_destination_other_than_the_verified_account(world: World) -> None:
    agreement_id = world.signed()
    with pytest.raises(RuleViolationError) as refused:
        world.app.disburse(
            world.officer,
            agreement_id,
            1,
            amount=Decimal("25000000.00"),
            transfer_reference="T",
            disbursed_on=dt.date(2027, 2, 1),
            destination_account="99999999",
            expected=None,
        )
    assert refused.value.rule == "destination-verified-account"


def test_refuses_a_disbursement_by_another_partners_officer(world: World) -> None:
    agreement_id = world.signed()
    other = Principal("officer-x", Role.partner_officer, organisation_id=UUID(int=3))
    with pytest.raises(ForbiddenError):
        world.app.disburse(
            other,
            agreement_id,
            1,
            amount=Decimal("25000000.00"),
            transfer_reference="T",
            disbursed_on=dt.date(2027, 2, 1),
            destination_account=None,
            expected=None,
        )


# -- realisation -------------------------------------------------------------------------------


def test_refuses_spending_beyond_what_was_disbursed(world: World) -> None:
    agreement_id = world.signed()
    world.disburse(agreement_id, 1)
    world.receive(agreement_id, 1)
    with pytest.raises(RuleViolationError) as refused:
        world.report(agreement_id, 1, "20000000.00", "5000000.01")
    assert refused.value.rule == "spent-within-disbursed"


def test_refuses_a_report_before_receipt_is_confirmed(world: World) -> None:
    agreement_id = world.signed()
    world.disburse(agreement_id, 1)
    with pytest.raises(RuleViolationError) as refused:
        world.report(agreement_id, 1, "1000.00")
    assert refused.value.rule == "receipt-confirmed"


def test_a_bkm_cannot_accept_its_own_report(world: World) -> None:
    agreement_id = world.signed()
    world.disburse(agreement_id, 1)
    world.receive(agreement_id, 1)
    number = world.report(agreement_id, 1, "1000.00")
    with pytest.raises(ForbiddenError):
        world.app.accept_report(world.operator, agreement_id, number, None)


def test_a_rejected_report_no_longer_counts_against_the_disbursed(world: World) -> None:
    agreement_id = world.signed()
    world.disburse(agreement_id, 1)
    world.receive(agreement_id, 1)
    number = world.report(agreement_id, 1, "25000000.00")
    world.app.reject_report(world.officer, agreement_id, number, "bukti kabur", None)
    again = world.report(agreement_id, 1, "25000000.00")
    assert again == number + 1


def test_an_opportunity_with_many_agreements_loads_from_a_snapshot_with_its_reservations(
    app: PartnershipsApplication,
) -> None:
    world = World(app).everything(envelope="100000000000.00")
    # Learned with its terms: two events; 98 commitments by opportunities make 100.
    for n in range(1, 99):
        committed = str(n * Decimal("25000000.00"))
        world.envelope_committed(UUID(int=n), committed, "100000000000.00")
    assert app.snapshots is not None
    assert list(app.snapshots.get(world.opportunity_id)), "no snapshot after 100 events"
    signed = [world.signed("25000000.00", tranches=("25000000.00",)) for _ in range(2)]
    opportunity = app.known_opportunity(world.opportunity_id)
    assert set(opportunity.reserved) == {str(a) for a in signed}
    assert opportunity.available == Decimal("100000000000.00") - 100 * Decimal("25000000.00")


def test_refuses_signing_for_a_suspended_bkm_and_signs_again_once_reinstated(
    world: World,
) -> None:
    agreement_id = world.agreement()
    ids = {"bkm_id": world.bkm_id, "region_code": REGION}
    world.tell(fact(registry.BkmSuspended, **ids))
    with pytest.raises(RuleViolationError) as refused:
        world.app.sign(world.officer, agreement_id, "partner", None)
    assert refused.value.rule == "bkm-verified"
    world.tell(fact(registry.BkmReinstated, **ids))
    assert world.app.sign(world.officer, agreement_id, "partner", None).signed


def test_a_proposal_from_a_proposed_match_names_its_activity_and_opportunity(
    world: World,
) -> None:
    match_id = matching.match_id(world.activity_id, world.opportunity_id)
    match = {
        "match_id": match_id,
        "activity_id": world.activity_id,
        "plan_id": world.plan_id,
        "bkm_id": world.bkm_id,
        "opportunity_id": world.opportunity_id,
        "partner_id": world.partner_id,
    }
    world.tell(fact(matching.MatchProposed, **match))
    proposal = world.app.submit_proposal(
        world.operator,
        match_id=match_id,
        plan_id=None,
        activity_id=None,
        opportunity_id=None,
        amount_requested=Decimal("50000000.00"),
        swadaya_amount=Decimal("15000000.00"),
        work_plan="dari kecocokan",
    )
    assert proposal.parties["activity_id"] == world.activity_id
    assert proposal.parties["partner_id"] == world.partner_id
    world.tell(fact(matching.MatchWithdrawn, **match))
    with pytest.raises(RuleViolationError) as refused:
        world.app.submit_proposal(
            world.operator,
            match_id=match_id,
            plan_id=None,
            activity_id=None,
            opportunity_id=None,
            amount_requested=Decimal("50000000.00"),
            swadaya_amount=Decimal("15000000.00"),
            work_plan="lagi",
        )
    assert refused.value.rule == "match-proposed"


def test_refuses_a_proposal_once_planning_reports_the_activity_cancelled(world: World) -> None:
    world.tell(
        fact(
            planning.ActivityChannellingCancelled,
            plan_id=world.plan_id,
            bkm_id=world.bkm_id,
            region_code=REGION,
            activity_id=world.activity_id,
        )
    )
    with pytest.raises(RuleViolationError) as refused:
        world.proposal()
    assert refused.value.rule == "activity-open-for-channelling"


def test_refuses_a_proposal_to_a_closed_opportunity(world: World) -> None:
    world.tell(
        fact(
            opportunities.OpportunityClosed,
            opportunity_id=world.opportunity_id,
            partner_id=world.partner_id,
        )
    )
    with pytest.raises(RuleViolationError) as refused:
        world.proposal()
    assert refused.value.rule == "opportunity-open"
