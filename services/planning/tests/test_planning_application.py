"""Planning's story, told once and run twice: in memory and on real Postgres.

Registry's and partnerships' events reach the application through the same tracked
effects the Kafka consumer uses, so exactly-once holds here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking
from salur_contracts import matching, partnerships, planning, registry
from salur_contracts.base import IntegrationEvent
from salur_contracts.cloudevents import new_envelope
from salur_kit.auth import Principal, Role
from salur_kit.consumer import EventSourcedEffects
from salur_kit.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RuleViolationError,
    StaleVersionError,
)
from salur_planning.application import PlanningApplication
from salur_planning.domain import Activity
from salur_planning.integration import to_integration

REGION = "32.73.01.1001"
FACILITATOR = Principal(subject="fasilitator-bandung", role=Role.facilitator, region_prefix="32.73")
OTHER_FACILITATOR = Principal(
    subject="fasilitator-bogor", role=Role.facilitator, region_prefix="32.71"
)
AUDITOR = Principal(subject="bpkp", role=Role.auditor)
MINUTES = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def operator(bkm_id: UUID) -> Principal:
    return Principal(subject=f"operator-{bkm_id}", role=Role.bkm_operator, organisation_id=bkm_id)


def drainage(**changes: object) -> Activity:
    fields: dict[str, object] = {
        "title": "Normalisasi saluran RW 05",
        "description": "",
        "aspect": "environment",
        "kind": "drainage",
        "location_region_code": REGION,
        "rw": "005",
        "rt": "002",
        "poor_households": 120,
        "women": 260,
        "total_people": 540,
        "estimated_cost": Decimal("150000000.00"),
        "swadaya_amount": None,
        "swadaya_percent": Decimal("10"),
        "blm_amount": Decimal("20000000.00"),
        "planned_year": 2027,
        "priority": 1,
    }
    return Activity(**(fields | changes))  # type: ignore[arg-type]


@pytest.fixture
def app(event_store_env: Mapping[str, str]) -> Iterator[PlanningApplication]:
    application = PlanningApplication(event_store_env)
    yield application
    application.close()


class Registry:
    """Delivers registry's and partnerships' events as the tracked consumer would."""

    def __init__(self, app: PlanningApplication) -> None:
        self.effects = EventSourcedEffects(app, app.policy)
        self.versions: dict[str, int] = {}

    def deliver(self, data: IntegrationEvent, *, again: bool = False) -> bool:
        """Apply an event; returns False when tracking says it was applied before."""
        if not again:
            self.versions[data.subject] = self.versions.get(data.subject, 0) + 1
        envelope = new_envelope(data, aggregate_version=self.versions[data.subject])
        tracking = Tracking(
            application_name=f"planning:{envelope.source}:{envelope.subject}",
            notification_id=envelope.aggregate_version,
        )
        if self.effects.is_processed(tracking):
            return False
        self.effects.apply(envelope, tracking)
        return True

    def bkm(self, *, verified: bool) -> UUID:
        bkm_id = uuid4()
        self.deliver(
            registry.BkmRegistered(
                bkm_id=bkm_id,
                name="BKM Mekar Sari",
                region_code=REGION,
                address="Jl. Cibeunying 4",
                legal_deed_number="AHU-1",
                founded_on=dt.date(2008, 3, 12),
                status="registered",
            )
        )
        if verified:
            self.deliver(registry.BkmVerified(bkm_id=bkm_id, region_code=REGION, verified_by="f"))
        return bkm_id


def endorsed_plan(app: PlanningApplication, bkm_id: UUID) -> tuple[UUID, UUID]:
    me = operator(bkm_id)
    plan = app.draft_plan(me, bkm_id=bkm_id, start_year=2026, end_year=2028)
    _, activity_id = app.add_activity(me, plan.id, drainage(), expected=None)
    app.submit_plan(me, plan.id, expected=None)
    app.endorse_plan(
        FACILITATOR,
        plan.id,
        meeting_date=dt.date(2026, 1, 10),
        attendance=87,
        minutes_sha256=MINUTES,
        expected=None,
    )
    return plan.id, activity_id


def test_story_of_a_plan_from_draft_to_funded_activity(app: PlanningApplication) -> None:
    # Registry reports a BKM in Bandung; planning learns it from the event, not by asking.
    world = Registry(app)
    bkm_id = world.bkm(verified=False)
    me = operator(bkm_id)

    # Its operator drafts the 2026-2028 plan with two activities and drops one again.
    plan = app.draft_plan(me, bkm_id=bkm_id, start_year=2026, end_year=2028)
    assert (plan.status, plan.region_code, plan.version) == ("draft", REGION, 1)
    _, drainage_id = app.add_activity(me, plan.id, drainage(), expected=1)
    _, roads_id = app.add_activity(
        me, plan.id, drainage(title="Jalan", kind="roads", priority=2), expected=2
    )
    app.revise_activity(
        me, plan.id, drainage_id, drainage(estimated_cost=Decimal("160000000.00")), expected=3
    )
    app.remove_activity(me, plan.id, roads_id, expected=4)

    # Submitted, then endorsed by a facilitator of Bandung after the rembug warga.
    app.submit_plan(me, plan.id, expected=5)
    endorsed = app.endorse_plan(
        FACILITATOR,
        plan.id,
        meeting_date=dt.date(2026, 1, 10),
        attendance=87,
        minutes_sha256=MINUTES,
        expected=6,
    )
    assert endorsed.status == "endorsed"

    # Not verified yet: the activity cannot be opened for channelling.
    with pytest.raises(RuleViolationError, match="verified BKM"):
        app.open_channelling(me, plan.id, drainage_id, Decimal("100000000.00"), expected=None)

    # Registry verifies the BKM (delivered twice: the repeat has no effect).
    verified = registry.BkmVerified(bkm_id=bkm_id, region_code=REGION, verified_by="f")
    assert world.deliver(verified)
    assert not world.deliver(verified, again=True)

    # 160M cost - 16M swadaya (10%) - 20M BLM leaves 124M to channel.
    with pytest.raises(RuleViolationError, match="above what remains"):
        app.open_channelling(me, plan.id, drainage_id, Decimal("124000000.01"), expected=None)
    app.open_channelling(me, plan.id, drainage_id, Decimal("124000000.00"), expected=7)

    # Partnerships sign and disburse; planning follows.
    agreement_id, partner_id = uuid4(), uuid4()
    common = {
        "agreement_id": agreement_id,
        "plan_id": plan.id,
        "activity_id": drainage_id,
        "bkm_id": bkm_id,
        "partner_id": partner_id,
        "currency": "IDR",
    }
    world.deliver(
        partnerships.AgreementSigned(
            **common,
            proposal_id=uuid4(),
            partner_name="PT Sinar Nusantara",
            opportunity_id=uuid4(),
            amount=Decimal("124000000.00"),
        )
    )
    world.deliver(
        partnerships.TrancheDisbursed(
            **common, tranche_number=1, amount=Decimal("50000000.00"), transfer_reference="BRI-1"
        )
    )
    reloaded = app.get_plan(plan.id)
    funding = reloaded.channelling[drainage_id]
    assert (funding.status, funding.committed, funding.disbursed) == (
        "in_progress",
        Decimal("124000000.00"),
        Decimal("50000000.00"),
    )
    assert reloaded.totals()["partners"][partner_id]["committed"] == Decimal("124000000.00")

    # A revision opens version 2; version 1 stays readable as it was endorsed.
    revised = app.open_revision(me, plan.id, expected=None)
    assert (revised.number, revised.status) == (2, "draft")
    assert app.get_plan(plan.id).version_view(1).status == "superseded"

    # Every plan event of the story leaves the service as a valid public event.
    published = [
        to_integration(app.mapper.to_domain_event(n))
        for n in app.recorder.select_notifications(1, 1000)
    ]
    public = [e for e in published if e is not None]
    assert {type(e).__name__ for e in public} >= {
        "PlanDrafted",
        "PlanActivityAdded",
        "PlanActivityRevised",
        "PlanActivityRemoved",
        "PlanSubmitted",
        "PlanEndorsed",
        "ActivityChannellingOpened",
        "ActivityFundingUpdated",
        "PlanRevisionOpened",
    }
    assert all(e.subject == str(plan.id) for e in public)


def proposed(plan_id: UUID, activity_id: UUID, bkm_id: UUID) -> matching.MatchProposed:
    opportunity_id = uuid4()
    return matching.MatchProposed(
        match_id=matching.match_id(activity_id, opportunity_id),
        activity_id=activity_id,
        plan_id=plan_id,
        bkm_id=bkm_id,
        opportunity_id=opportunity_id,
        partner_id=uuid4(),
        aspect="environment",
        region_code=REGION,
        amount_needed=Decimal("100000000.00"),
        currency="IDR",
        score=7350,
        rules_passed=["aspect_accepted"],
        reasons=[matching.ScoreReason(criterion="fit", points=7350, explanation="Fits.")],
    )


def withdrawn(match: matching.MatchProposed) -> matching.MatchWithdrawn:
    return matching.MatchWithdrawn(
        **match.model_dump(
            include={"match_id", "activity_id", "plan_id", "bkm_id", "opportunity_id", "partner_id"}
        ),
        withdrawn_because="opportunity_closed",
        explanation="The opportunity closed.",
    )


def test_story_of_an_activity_matched_and_unmatched_by_matching(app: PlanningApplication) -> None:
    # An endorsed plan of a verified BKM opens its activity for channelling.
    world = Registry(app)
    bkm_id = world.bkm(verified=True)
    plan_id, activity_id = endorsed_plan(app, bkm_id)
    me = operator(bkm_id)
    app.open_channelling(me, plan_id, activity_id, Decimal("100000000.00"), expected=None)

    # Matching proposes two opportunities; the first proposal is delivered twice.
    first, second = proposed(plan_id, activity_id, bkm_id), proposed(plan_id, activity_id, bkm_id)
    assert world.deliver(first)
    assert not world.deliver(first, again=True)
    world.deliver(second)
    plan = app.get_plan(plan_id)
    assert plan.channelling[activity_id].status == "matched"
    assert set(plan.channelling[activity_id].matches) == {str(first.match_id), str(second.match_id)}

    # Matching withdraws both (the first withdrawal twice): back to seeking funding.
    assert world.deliver(withdrawn(first))
    assert not world.deliver(withdrawn(first), again=True)
    assert app.get_plan(plan_id).channelling[activity_id].status == "matched"
    world.deliver(withdrawn(second))
    assert app.get_plan(plan_id).channelling[activity_id].status == "seeking_funding"

    # Each fact that changed the matches left once, as a public event, in order.
    published = [
        to_integration(app.mapper.to_domain_event(n))
        for n in app.recorder.select_notifications(1, 1000)
    ]
    updates = [e for e in published if isinstance(e, planning.ActivityMatchesUpdated)]
    assert [(e.cause, e.open_matches, e.funding_status) for e in updates] == [
        ("match_proposed", 1, "matched"),
        ("match_proposed", 2, "matched"),
        ("match_withdrawn", 1, "matched"),
        ("match_withdrawn", 0, "seeking_funding"),
    ]


class TestMatchingEvents:
    def test_a_match_for_another_bkms_plan_is_refused_and_changes_nothing(
        self, app: PlanningApplication
    ) -> None:
        world = Registry(app)
        bkm_id = world.bkm(verified=True)
        plan_id, activity_id = endorsed_plan(app, bkm_id)
        app.open_channelling(operator(bkm_id), plan_id, activity_id, Decimal("1.00"), None)
        version = app.get_plan(plan_id).version
        with pytest.raises(RuleViolationError, match="belongs to BKM"):
            world.deliver(proposed(plan_id, activity_id, uuid4()))
        assert app.get_plan(plan_id).version == version

    def test_a_match_for_an_activity_not_opened_is_refused(self, app: PlanningApplication) -> None:
        world = Registry(app)
        bkm_id = world.bkm(verified=True)
        plan_id, activity_id = endorsed_plan(app, bkm_id)
        with pytest.raises(RuleViolationError, match="never opened"):
            world.deliver(proposed(plan_id, activity_id, bkm_id))


class TestGates:
    def test_a_bkm_registry_never_reported_cannot_have_a_plan(
        self, app: PlanningApplication
    ) -> None:
        unknown = uuid4()
        with pytest.raises(RuleViolationError, match="not known to planning"):
            app.draft_plan(operator(unknown), bkm_id=unknown, start_year=2026, end_year=2028)

    def test_a_year_outside_the_period_changes_nothing(self, app: PlanningApplication) -> None:
        bkm_id = Registry(app).bkm(verified=True)
        plan = app.draft_plan(operator(bkm_id), bkm_id=bkm_id, start_year=2026, end_year=2028)
        with pytest.raises(RuleViolationError, match="outside the plan's period"):
            app.add_activity(operator(bkm_id), plan.id, drainage(planned_year=2030), None)
        assert app.get_plan(plan.id).version == 1

    def test_two_plans_of_one_bkm_cannot_overlap(self, app: PlanningApplication) -> None:
        bkm_id = Registry(app).bkm(verified=True)
        app.draft_plan(operator(bkm_id), bkm_id=bkm_id, start_year=2026, end_year=2028)
        with pytest.raises(ConflictError):
            app.draft_plan(operator(bkm_id), bkm_id=bkm_id, start_year=2027, end_year=2029)

    def test_a_suspended_bkm_cannot_open_an_activity(self, app: PlanningApplication) -> None:
        world = Registry(app)
        bkm_id = world.bkm(verified=True)
        plan_id, activity_id = endorsed_plan(app, bkm_id)
        world.deliver(
            registry.BkmSuspended(bkm_id=bkm_id, region_code=REGION, reason="x", suspended_by="f")
        )
        with pytest.raises(RuleViolationError, match="verified BKM"):
            app.open_channelling(operator(bkm_id), plan_id, activity_id, Decimal("1.00"), None)


class TestRegistryEvents:
    def test_a_bkm_is_learned_from_whichever_event_comes_first(
        self, app: PlanningApplication
    ) -> None:
        world = Registry(app)
        bkm_id = uuid4()
        world.deliver(registry.BkmVerified(bkm_id=bkm_id, region_code=REGION, verified_by="f"))
        plan = app.draft_plan(operator(bkm_id), bkm_id=bkm_id, start_year=2026, end_year=2028)
        assert plan.region_code == REGION

    def test_partner_events_are_tracked_without_effect(self, app: PlanningApplication) -> None:
        partner_id = uuid4()
        world = Registry(app)
        verified = registry.PartnerVerified(partner_id=partner_id, verified_by="f")
        assert world.deliver(verified)
        assert not world.deliver(verified, again=True)
        with pytest.raises(NotFoundError):
            app.get_plan(partner_id)


class TestAuthorisation:
    def test_an_operator_acts_only_on_their_own_bkms_plan(self, app: PlanningApplication) -> None:
        bkm_id = Registry(app).bkm(verified=True)
        stranger = operator(uuid4())
        with pytest.raises(ForbiddenError):
            app.draft_plan(stranger, bkm_id=bkm_id, start_year=2026, end_year=2028)
        plan = app.draft_plan(operator(bkm_id), bkm_id=bkm_id, start_year=2026, end_year=2028)
        with pytest.raises(ForbiddenError):
            app.add_activity(stranger, plan.id, drainage(), None)
        with pytest.raises(ForbiddenError):
            app.add_activity(FACILITATOR, plan.id, drainage(), None)

    def test_a_facilitator_endorses_only_inside_their_region(
        self, app: PlanningApplication
    ) -> None:
        bkm_id = Registry(app).bkm(verified=True)
        me = operator(bkm_id)
        plan = app.draft_plan(me, bkm_id=bkm_id, start_year=2026, end_year=2028)
        app.add_activity(me, plan.id, drainage(), None)
        app.submit_plan(me, plan.id, None)
        for outsider in (OTHER_FACILITATOR, AUDITOR, me):
            with pytest.raises(ForbiddenError):
                app.endorse_plan(
                    outsider,
                    plan.id,
                    meeting_date=dt.date(2026, 1, 10),
                    attendance=5,
                    minutes_sha256=MINUTES,
                    expected=None,
                )
        assert app.get_plan(plan.id).status == "submitted"


class TestConsistency:
    def test_a_stale_expected_version_is_refused_and_changes_nothing(
        self, app: PlanningApplication
    ) -> None:
        bkm_id = Registry(app).bkm(verified=True)
        plan = app.draft_plan(operator(bkm_id), bkm_id=bkm_id, start_year=2026, end_year=2028)
        app.add_activity(operator(bkm_id), plan.id, drainage(), expected=1)
        with pytest.raises(StaleVersionError):
            app.add_activity(operator(bkm_id), plan.id, drainage(), expected=1)
        assert len(app.get_plan(plan.id).activities) == 1

    def test_an_unknown_plan_is_not_found(self, app: PlanningApplication) -> None:
        with pytest.raises(NotFoundError):
            app.get_plan(uuid4())

    def test_funding_for_an_unknown_plan_is_refused(self, app: PlanningApplication) -> None:
        with pytest.raises(NotFoundError):
            Registry(app).deliver(
                partnerships.PartnershipTerminated(
                    agreement_id=uuid4(),
                    plan_id=uuid4(),
                    activity_id=uuid4(),
                    bkm_id=uuid4(),
                    partner_id=uuid4(),
                    returned_amount=Decimal("0.00"),
                    currency="IDR",
                    reason="x",
                )
            )
