"""Plan and known-BKM rules, in memory."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from salur_contracts.planning import ActivityChannellingCancelled, ActivityMatchesUpdated
from salur_kit.errors import ConflictError, NotFoundError, RuleViolationError
from salur_planning.domain import Activity, Channelling, KnownBkm, Plan, check_period
from salur_planning.integration import to_integration

pytestmark = pytest.mark.unit

TODAY = dt.date(2026, 3, 1)
MINUTES = "ab" * 32


def drainage(**changes: object) -> Activity:
    activity = Activity(
        title="Normalisasi saluran RW 05",
        description="Saluran sepanjang 350 m sering meluap",
        aspect="environment",
        kind="drainage",
        location_region_code="32.73.01.1001",
        rw="005",
        rt=None,
        poor_households=120,
        women=260,
        total_people=540,
        estimated_cost=Decimal("150000000.00"),
        swadaya_amount=Decimal("15000000.00"),
        swadaya_percent=None,
        blm_amount=Decimal("20000000.00"),
        planned_year=2027,
        priority=1,
    )
    return dataclasses.replace(activity, **changes)  # type: ignore[arg-type]


def a_plan() -> Plan:
    return Plan(
        id=uuid4(),
        bkm_id=uuid4(),
        region_code="32.73.01.1001",
        start_year=2026,
        end_year=2028,
        drafted_by="operator",
    )


def an_endorsed_plan() -> tuple[Plan, UUID]:
    plan = a_plan()
    activity_id = uuid4()
    plan.add_activity(activity_id, drainage())
    plan.submit("operator")
    plan.endorse(
        meeting_date=TODAY,
        attendance=87,
        minutes_sha256=MINUTES,
        endorsed_by="facilitator",
        today=TODAY,
    )
    return plan, activity_id


def rule_of(error: pytest.ExceptionInfo[RuleViolationError]) -> str | None:
    return error.value.rule


class TestPeriod:
    def test_a_plan_covers_one_to_five_years(self) -> None:
        check_period(2026, 2028)
        check_period(2026, 2026)
        with pytest.raises(RuleViolationError, match="1 to 5 years"):
            check_period(2026, 2031)
        with pytest.raises(RuleViolationError):
            check_period(2028, 2026)


class TestActivities:
    def test_adds_revises_and_removes_activities_of_a_draft(self) -> None:
        plan = a_plan()
        first, second = uuid4(), uuid4()
        plan.add_activity(first, drainage())
        plan.add_activity(second, drainage(title="Jalan lingkungan", kind="roads", priority=2))
        plan.revise_activity(first, drainage(estimated_cost=Decimal("175000000.00")))
        plan.remove_activity(second)
        assert list(plan.activities) == [first]
        assert plan.activities[first].estimated_cost == Decimal("175000000.00")

    def test_a_percentage_swadaya_becomes_an_amount_of_the_cost(self) -> None:
        plan = a_plan()
        activity_id = uuid4()
        plan.add_activity(
            activity_id, drainage(swadaya_amount=None, swadaya_percent=Decimal("12.5"))
        )
        assert plan.activities[activity_id].swadaya == Decimal("18750000.00")

    @pytest.mark.parametrize(
        ("change", "rule"),
        [
            ({"planned_year": 2029}, "year-within-period"),
            ({"planned_year": 2025}, "year-within-period"),
            ({"swadaya_amount": Decimal("150000000.01")}, "swadaya-within-cost"),
            ({"swadaya_amount": None, "swadaya_percent": Decimal("101")}, "swadaya-within-cost"),
            ({"blm_amount": Decimal("140000000.00")}, "shares-within-cost"),
            ({"blm_amount": Decimal("-1.00")}, "money"),
            ({"estimated_cost": Decimal("0.00")}, "positive-money"),
            ({"women": 541}, "beneficiaries-consistent"),
            ({"swadaya_amount": None}, "swadaya-amount-or-percent"),
        ],
    )
    def test_refuses_an_activity_that_breaks_a_rule(
        self, change: dict[str, object], rule: str
    ) -> None:
        plan = a_plan()
        with pytest.raises(RuleViolationError) as error:
            plan.add_activity(uuid4(), drainage(**change))
        assert rule_of(error) == rule
        assert plan.activities == {}

    def test_a_submitted_or_endorsed_plan_cannot_be_edited(self) -> None:
        plan, activity_id = an_endorsed_plan()
        edits: list[Callable[[], None]] = [
            lambda: plan.add_activity(uuid4(), drainage()),
            lambda: plan.revise_activity(activity_id, drainage(title="Lain")),
            lambda: plan.remove_activity(activity_id),
        ]
        for edit in edits:
            with pytest.raises(RuleViolationError) as error:
                edit()
            assert rule_of(error) == "plan-draft"

    def test_an_unknown_activity_is_not_found(self) -> None:
        with pytest.raises(NotFoundError):
            a_plan().remove_activity(uuid4())


class TestLifecycle:
    def test_an_empty_plan_cannot_be_submitted(self) -> None:
        with pytest.raises(RuleViolationError, match="at least one activity"):
            a_plan().submit("operator")

    def test_only_a_submitted_plan_is_endorsed_and_never_by_a_future_meeting(self) -> None:
        plan = a_plan()
        plan.add_activity(uuid4(), drainage())
        endorse = {
            "meeting_date": TODAY,
            "attendance": 87,
            "minutes_sha256": MINUTES,
            "endorsed_by": "facilitator",
            "today": TODAY,
        }
        with pytest.raises(RuleViolationError, match="only a submitted plan"):
            plan.endorse(**endorse)  # type: ignore[arg-type]
        plan.submit("operator")
        with pytest.raises(RuleViolationError, match="future"):
            plan.endorse(**endorse | {"meeting_date": TODAY + dt.timedelta(days=1)})  # type: ignore[arg-type]
        plan.endorse(**endorse)  # type: ignore[arg-type]
        assert plan.status == "endorsed"

    def test_a_revision_opens_a_new_draft_version_and_keeps_the_earlier_one(self) -> None:
        plan, activity_id = an_endorsed_plan()
        plan.open_revision("operator")
        plan.revise_activity(activity_id, drainage(title="Saluran RW 05 dan RW 06"))
        assert (plan.number, plan.status) == (2, "draft")
        earlier = plan.version_view(1)
        assert earlier.status == "superseded"
        assert earlier.endorsement is not None
        assert earlier.activities[activity_id].title == "Normalisasi saluran RW 05"
        assert plan.version_view(2).activities[activity_id].title == "Saluran RW 05 dan RW 06"
        with pytest.raises(NotFoundError):
            plan.version_view(3)

    def test_only_an_endorsed_plan_is_revised(self) -> None:
        with pytest.raises(RuleViolationError, match="must be endorsed"):
            a_plan().open_revision("operator")


class TestChannelling:
    def test_opens_an_activity_for_what_swadaya_and_blm_leave(self) -> None:
        plan, activity_id = an_endorsed_plan()
        plan.open_channelling(activity_id, Decimal("115000000.00"), "operator")
        assert plan.channelling[activity_id].status == "seeking_funding"
        assert plan.channelling[activity_id].outstanding == Decimal("115000000.00")

    def test_refuses_an_amount_above_what_remains(self) -> None:
        plan, activity_id = an_endorsed_plan()
        with pytest.raises(RuleViolationError) as error:
            plan.open_channelling(activity_id, Decimal("115000000.01"), "operator")
        assert rule_of(error) == "amount-within-remaining"
        assert plan.channelling == {}

    def test_refuses_an_activity_of_a_plan_that_is_not_endorsed(self) -> None:
        plan = a_plan()
        activity_id = uuid4()
        plan.add_activity(activity_id, drainage())
        with pytest.raises(RuleViolationError) as error:
            plan.open_channelling(activity_id, Decimal("1.00"), "operator")
        assert rule_of(error) == "plan-endorsed"

    def test_funding_follows_the_partnerships(self) -> None:
        plan, activity_id = an_endorsed_plan()
        plan.open_channelling(activity_id, Decimal("100000000.00"), "operator")
        first, second, partner = uuid4(), uuid4(), uuid4()
        plan.record_agreement(activity_id, first, partner, "PT Sinar", Decimal("60000000.00"))
        assert plan.channelling[activity_id].status == "partially_funded"
        plan.record_agreement(activity_id, second, uuid4(), "Pemkot", Decimal("40000000.00"))
        assert plan.channelling[activity_id].status == "funded"
        plan.record_disbursement(activity_id, first, Decimal("30000000.00"))
        assert plan.channelling[activity_id].status == "in_progress"
        plan.record_completion(activity_id, first, Decimal("60000000.00"))
        plan.record_termination(activity_id, second, Decimal("0.00"))
        # The terminated agreement disbursed nothing, so the activity needs funding again.
        assert plan.channelling[activity_id].status == "partially_funded"
        assert plan.channelling[activity_id].outstanding == Decimal("40000000.00")
        totals = plan.totals()
        assert totals["partners"][partner]["committed"] == Decimal("60000000.00")
        assert totals["swadaya"] == Decimal("15000000.00")
        assert totals["blm"] == Decimal("20000000.00")
        assert totals["unfunded"] == Decimal("55000000.00")
        assert totals["by_aspect"]["environment"]["partners"] == Decimal("60000000.00")

    def test_withdraws_only_what_no_partner_committed_to(self) -> None:
        plan, activity_id = an_endorsed_plan()
        plan.open_channelling(activity_id, Decimal("100000000.00"), "operator")
        plan.withdraw_channelling(activity_id, "operator")
        assert plan.channelling[activity_id].status == "withdrawn"
        withdrawn = to_integration(plan.collect_events()[-1])
        assert isinstance(withdrawn, ActivityChannellingCancelled)
        assert withdrawn.activity_id == activity_id
        plan.open_channelling(activity_id, Decimal("90000000.00"), "operator")
        plan.record_agreement(activity_id, uuid4(), uuid4(), "PT Sinar", Decimal("1.00"))
        with pytest.raises(RuleViolationError, match="no partner has committed"):
            plan.withdraw_channelling(activity_id, "operator")

    def test_an_agreement_signed_after_a_withdrawal_counts_but_seeks_no_more(self) -> None:
        plan, activity_id = an_endorsed_plan()
        plan.open_channelling(activity_id, Decimal("100000000.00"), "operator")
        plan.withdraw_channelling(activity_id, "operator")
        plan.record_agreement(activity_id, uuid4(), uuid4(), "PT Sinar", Decimal("10000000.00"))
        funding = plan.channelling[activity_id]
        assert (funding.status, funding.committed, funding.outstanding) == (
            "partially_funded",
            Decimal("10000000.00"),
            Decimal("0.00"),
        )

    def test_an_activity_in_channelling_is_locked_in_a_revision(self) -> None:
        plan, activity_id = an_endorsed_plan()
        plan.open_channelling(activity_id, Decimal("100000000.00"), "operator")
        plan.open_revision("operator")
        with pytest.raises(RuleViolationError) as error:
            plan.remove_activity(activity_id)
        assert rule_of(error) == "activity-in-channelling"

    def test_a_disbursement_of_an_unknown_agreement_is_refused(self) -> None:
        plan, activity_id = an_endorsed_plan()
        plan.open_channelling(activity_id, Decimal("100000000.00"), "operator")
        with pytest.raises(RuleViolationError, match="never signed"):
            plan.record_disbursement(activity_id, uuid4(), Decimal("1.00"))


class TestMatches:
    def test_an_activity_with_an_open_match_is_matched_until_the_last_is_withdrawn(
        self,
    ) -> None:
        plan, activity_id = an_endorsed_plan()
        plan.open_channelling(activity_id, Decimal("100000000.00"), "operator")
        first, second, partner = uuid4(), uuid4(), uuid4()
        plan.record_match(activity_id, first, uuid4(), partner, 7350)
        assert plan.channelling[activity_id].status == "matched"
        plan.record_match(activity_id, second, uuid4(), uuid4(), 5000)
        plan.record_match_withdrawal(activity_id, first)
        assert plan.channelling[activity_id].status == "matched"
        plan.record_match_withdrawal(activity_id, second)
        funding = plan.channelling[activity_id]
        assert (funding.status, funding.outstanding) == ("seeking_funding", Decimal("100000000.00"))

    def test_each_match_fact_is_published_with_the_status_after_it(self) -> None:
        plan, activity_id = an_endorsed_plan()
        plan.open_channelling(activity_id, Decimal("100000000.00"), "operator")
        match_id, opportunity_id, partner_id = uuid4(), uuid4(), uuid4()
        plan.record_match(activity_id, match_id, opportunity_id, partner_id, 7350)
        plan.record_match_withdrawal(activity_id, match_id)
        proposed, withdrawn = (to_integration(e) for e in plan.collect_events()[-2:])
        assert isinstance(proposed, ActivityMatchesUpdated)
        assert isinstance(withdrawn, ActivityMatchesUpdated)
        assert (proposed.cause, proposed.score, proposed.open_matches) == (
            "match_proposed",
            7350,
            1,
        )
        assert (proposed.funding_status, proposed.outstanding) == (
            "matched",
            Decimal("100000000.00"),
        )
        assert (proposed.match_id, proposed.opportunity_id, proposed.partner_id) == (
            match_id,
            opportunity_id,
            partner_id,
        )
        assert (withdrawn.cause, withdrawn.score, withdrawn.open_matches) == (
            "match_withdrawn",
            None,
            0,
        )
        assert withdrawn.funding_status == "seeking_funding"
        assert withdrawn.partner_id == partner_id

    def test_a_repeated_proposal_or_withdrawal_changes_nothing(self) -> None:
        plan, activity_id = an_endorsed_plan()
        plan.open_channelling(activity_id, Decimal("100000000.00"), "operator")
        match_id = uuid4()
        plan.record_match(activity_id, match_id, uuid4(), uuid4(), 7350)
        version = plan.version
        plan.record_match(activity_id, match_id, uuid4(), uuid4(), 7350)
        assert plan.version == version
        plan.record_match_withdrawal(activity_id, match_id)
        plan.record_match_withdrawal(activity_id, match_id)
        plan.record_match_withdrawal(activity_id, uuid4())
        assert plan.version == version + 1
        assert plan.channelling[activity_id].status == "seeking_funding"

    def test_a_partners_commitment_takes_precedence_over_a_match(self) -> None:
        plan, activity_id = an_endorsed_plan()
        plan.open_channelling(activity_id, Decimal("100000000.00"), "operator")
        plan.record_match(activity_id, uuid4(), uuid4(), uuid4(), 7350)
        agreement = uuid4()
        plan.record_agreement(activity_id, agreement, uuid4(), "PT Sinar", Decimal("40000000.00"))
        assert plan.channelling[activity_id].status == "partially_funded"
        plan.record_termination(activity_id, agreement, Decimal("0.00"))
        # Nothing was spent: the activity seeks it all again, and the match still stands.
        assert plan.channelling[activity_id].status == "matched"

    def test_a_matched_activity_can_still_be_withdrawn_and_keeps_its_matches(self) -> None:
        plan, activity_id = an_endorsed_plan()
        plan.open_channelling(activity_id, Decimal("100000000.00"), "operator")
        match_id = uuid4()
        plan.record_match(activity_id, match_id, uuid4(), uuid4(), 7350)
        plan.withdraw_channelling(activity_id, "operator")
        assert plan.channelling[activity_id].status == "withdrawn"
        plan.open_channelling(activity_id, Decimal("90000000.00"), "operator")
        assert plan.channelling[activity_id].status == "matched"
        plan.record_match_withdrawal(activity_id, match_id)
        assert plan.channelling[activity_id].status == "seeking_funding"

    def test_a_match_for_an_activity_never_opened_is_refused(self) -> None:
        plan, activity_id = an_endorsed_plan()
        with pytest.raises(RuleViolationError) as error:
            plan.record_match(activity_id, uuid4(), uuid4(), uuid4(), 7350)
        assert rule_of(error) == "activity-open-for-channelling"

    def test_channelling_stored_before_matches_were_followed_reads_as_without_matches(
        self,
    ) -> None:
        old = {"amount_needed": Decimal("1.00"), "seeking": True, "agreements": {}}
        assert Channelling.from_state(old).status == "seeking_funding"


class TestKnownBkm:
    def test_follows_registry_status_and_returns_after_a_suspension(self) -> None:
        bkm = KnownBkm(id=uuid4(), region_code="32.73.01.1001", status="registered")
        bkm.follow("verified")
        bkm.follow("suspended")
        with pytest.raises(RuleViolationError, match="verified BKM"):
            bkm.require_verified()
        bkm.follow("reinstated")
        assert bkm.status == "verified"
        bkm.require_verified()

    def test_plans_of_one_bkm_never_overlap(self) -> None:
        bkm = KnownBkm(id=uuid4(), region_code="32.73.01.1001", status="registered")
        bkm.claim_period(uuid4(), 2026, 2028)
        with pytest.raises(ConflictError):
            bkm.claim_period(uuid4(), 2028, 2030)
        bkm.claim_period(uuid4(), 2029, 2031)
