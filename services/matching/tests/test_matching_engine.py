"""The engine: proposing when a pair becomes eligible, withdrawing (with the reason) when a
fact changes, never proposing a standing pair twice, and looking only into the buckets a
change can affect."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from salur_contracts.matching import WithdrawnBecause
from salur_contracts.planning import PlanActivityAdded
from salur_matching.engine import Engine, Proposal, Transition, Withdrawal
from salur_matching.examples import ActivitySpec, Feed, OpportunitySpec
from salur_matching.rules import RULE_NAMES

pytestmark = pytest.mark.unit

REGION = "32.73.01.1001"
NEED = Decimal("100000000.00")


def run(engine: Engine, feed: Feed, start: int = 0) -> list[Transition]:
    transitions: list[Transition] = []
    for event, version in feed.events[start:]:
        transitions += engine.apply(event, version).transitions
    return transitions


def world() -> tuple[Engine, Feed, ActivitySpec, OpportunitySpec]:
    """A verified BKM with an opened drainage activity and one fitting open opportunity."""
    engine, feed = Engine(), Feed()
    bkm_id, partner_id = uuid.uuid4(), uuid.uuid4()
    feed.bkm(bkm_id, REGION)
    feed.partner(partner_id, ["32.73"])
    activity = ActivitySpec(bkm_id=bkm_id, bkm_region=REGION)
    feed.activity(activity, open_for=NEED)
    opportunity = OpportunitySpec(partner_id=partner_id)
    feed.publish(opportunity)
    return engine, feed, activity, opportunity


def only(transitions: list[Transition]) -> Transition:
    assert len(transitions) == 1, transitions
    return transitions[0]


def test_a_published_opportunity_is_proposed_to_a_fitting_activity_with_score_and_reasons() -> None:
    engine, feed, activity, opportunity = world()
    proposal = only(run(engine, feed))
    assert isinstance(proposal, Proposal)
    assert proposal.activity.activity_id == activity.activity_id
    assert proposal.opportunity.opportunity_id == opportunity.opportunity_id
    assert proposal.version == 1
    assert [r.criterion for r in proposal.reasons] == [
        "poor_households_per_rupiah",
        "plan_priority",
        "swadaya_beyond_requirement",
        "close_date_fits_planned_year",
        "envelope_headroom",
        "partner_region_preference",
    ]
    # 120 households for Rp 100 million = 1.2 per million -> 3000 * 1.2 / 2 = 1800;
    # priority 1 -> 2000; swadaya 10% = required -> 0; closes in the planned year -> 1500;
    # remaining 10x the ask -> 1000; inside the partner's regions -> 1000.
    assert [r.points for r in proposal.reasons] == [1800, 2000, 0, 1500, 1000, 1000]
    assert proposal.score == 7300
    assert "1.2 per Rp 1 million" in proposal.reasons[0].explanation
    assert engine.standing() == {(activity.activity_id, opportunity.opportunity_id)}


def test_a_newly_opened_activity_is_proposed_to_open_opportunities_already_there() -> None:
    engine, feed = Engine(), Feed()
    bkm_id, partner_id = uuid.uuid4(), uuid.uuid4()
    feed.bkm(bkm_id, REGION)
    fitting = OpportunitySpec(partner_id=partner_id)
    elsewhere = OpportunitySpec(partner_id=partner_id, regions=["31.71"])
    social = OpportunitySpec(partner_id=partner_id, aspects=["social"], kinds=["health"])
    for o in (fitting, elsewhere, social):
        feed.publish(o)
    assert run(engine, feed) == []
    mark = len(feed.events)
    activity = ActivitySpec(bkm_id=bkm_id, bkm_region=REGION)
    feed.activity(activity, open_for=NEED)
    proposal = only(run(engine, feed, mark))
    assert proposal.opportunity.opportunity_id == fitting.opportunity_id


def test_an_activity_described_but_not_opened_is_not_proposed() -> None:
    engine, feed = Engine(), Feed()
    bkm_id = uuid.uuid4()
    feed.bkm(bkm_id, REGION)
    feed.publish(OpportunitySpec(partner_id=uuid.uuid4()))
    feed.activity(ActivitySpec(bkm_id=bkm_id, bkm_region=REGION))
    assert run(engine, feed) == []


def test_a_redelivered_event_proposes_nothing_twice() -> None:
    engine, feed, _, _ = world()
    assert len(run(engine, feed)) == 1
    for event, version in feed.events:
        change = engine.apply(event, version)
        assert change.transitions == []
        assert change.facts == []


def test_an_older_event_of_the_same_aggregate_does_not_undo_a_newer_one() -> None:
    engine, feed, _activity, opportunity = world()
    run(engine, feed)
    mark = len(feed.events)
    feed.close(opportunity)
    closing = only(run(engine, feed, mark))
    assert isinstance(closing, Withdrawal)
    published = next(e for e in feed.events if type(e[0]).__name__ == "OpportunityPublished")
    assert engine.apply(*published).transitions == []
    assert engine.opportunities[opportunity.opportunity_id].status == "closed"


def withdrawn_by(change: str) -> Withdrawal:
    engine, feed, activity, opportunity = world()
    run(engine, feed)
    mark = len(feed.events)
    if change == "closed":
        feed.close(opportunity)
    elif change == "cancelled":
        feed.cancel_opportunity(opportunity)
    elif change == "exhausted":
        feed.exhaust(opportunity, Decimal("10000000.00"))
    elif change == "committed":
        feed.commit(opportunity, Decimal("950000000.00"), Decimal("950000000.00"))
    elif change == "funded":
        feed.funding(activity, "funded", needed=NEED, committed=NEED)
    elif change == "partially_funded_below_minimum":
        feed.funding(activity, "partially_funded", needed=NEED, committed=Decimal("90000000.00"))
    elif change == "withdrawn":
        feed.cancel(activity)
    elif change == "suspended":
        feed.suspend(activity.bkm_id, REGION)
    elif change == "revised_elsewhere":
        opportunity.regions = ["31.71"]
        feed.revise_terms(opportunity)
    withdrawal = only(run(engine, feed, mark))
    assert isinstance(withdrawal, Withdrawal)
    assert withdrawal.version == 2
    assert engine.standing() == set()
    return withdrawal


@pytest.mark.parametrize(
    ("change", "because", "words"),
    [
        ("closed", "opportunity_closed", "is closed"),
        ("cancelled", "opportunity_cancelled", "is cancelled"),
        ("exhausted", "envelope_exhausted", "envelope is exhausted"),
        ("committed", "envelope_exhausted", "what remains of the envelope (Rp 50,000,000)"),
        ("funded", "activity_funded", "it is funded"),
        ("partially_funded_below_minimum", "no_longer_eligible", "below the smallest amount"),
        ("withdrawn", "activity_withdrawn", "withdrew the activity"),
        ("suspended", "bkm_suspended", "The BKM is suspended"),
        ("revised_elsewhere", "no_longer_eligible", "outside the eligible regions (31.71)"),
    ],
)
def test_a_standing_match_is_withdrawn_with_the_fact_that_changed(
    change: str, because: WithdrawnBecause, words: str
) -> None:
    withdrawal = withdrawn_by(change)
    assert withdrawal.because == because
    assert words in withdrawal.explanation


def test_a_partial_commitment_that_leaves_the_pair_eligible_changes_nothing() -> None:
    engine, feed, activity, _ = world()
    run(engine, feed)
    mark = len(feed.events)
    feed.funding(activity, "partially_funded", needed=NEED, committed=Decimal("30000000.00"))
    assert run(engine, feed, mark) == []
    assert len(engine.standing()) == 1


def test_planning_calling_the_activity_matched_keeps_it_seeking_and_its_matches_standing() -> None:
    engine, feed, activity, _ = world()
    run(engine, feed)
    mark = len(feed.events)
    # Planning follows matching: with a match open and nothing committed it says `matched`.
    feed.funding(activity, "matched", needed=NEED, committed=Decimal("0.00"))
    assert run(engine, feed, mark) == []
    assert len(engine.standing()) == 1


def test_planning_following_matching_is_ignored_so_there_is_no_feedback_loop() -> None:
    from salur_contracts.planning import ActivityMatchesUpdated

    engine, feed, activity, opportunity = world()
    run(engine, feed)
    mark = len(feed.events)
    feed.add(
        ActivityMatchesUpdated(
            **activity.context(),
            activity_id=activity.activity_id,
            cause="match_proposed",
            match_id=uuid.uuid4(),
            opportunity_id=opportunity.opportunity_id,
            partner_id=opportunity.partner_id,
            score=7300,
            open_matches=1,
            funding_status="matched",
            outstanding=NEED,
        )
    )
    change = engine.apply(*feed.events[mark])
    assert change.transitions == []
    assert change.facts == []


def test_a_reinstated_bkm_has_its_pair_proposed_again_under_the_next_version() -> None:
    engine, feed, activity, opportunity = world()
    run(engine, feed)
    feed.suspend(activity.bkm_id, REGION)
    mark = len(feed.events)
    feed.reinstate(activity.bkm_id, REGION)
    run(engine, feed, mark - 1)
    pair = (activity.activity_id, opportunity.opportunity_id)
    assert engine.versions[pair] == 3
    assert engine.standing() == {pair}


def test_a_failed_save_is_undone_in_memory() -> None:
    engine, feed, _activity, _opportunity = world()
    for event, version in feed.events[:-1]:
        engine.apply(event, version)
    before = (dict(engine.opportunities), dict(engine.versions), dict(engine.by_activity))
    change = engine.apply(*feed.events[-1])
    assert len(change.transitions) == 1
    change.undo()
    assert (dict(engine.opportunities), dict(engine.versions), dict(engine.by_activity)) == before
    assert engine.apply(*feed.events[-1]).transitions[0].version == 1


def test_a_new_opportunity_is_compared_only_with_activities_in_its_buckets() -> None:
    engine, feed = Engine(), Feed()
    bkm_id = uuid.uuid4()
    feed.bkm(bkm_id, REGION)
    for i in range(200):
        # Other kinds, aspects or cities: never candidates of the opportunity below.
        spec = ActivitySpec(
            bkm_id=bkm_id,
            bkm_region=REGION,
            region=REGION if i % 2 else "32.74.01.1001",
            kind="roads" if i % 3 else "drainage",
        )
        feed.activity(spec, open_for=NEED)
    run(engine, feed)
    decided: list[tuple[uuid.UUID, uuid.UUID]] = []
    decide = engine._decide

    def counting(a, o, change):  # type: ignore[no-untyped-def]
        decided.append((a.activity_id, o.opportunity_id))
        decide(a, o, change)

    engine._decide = counting  # type: ignore[method-assign]
    mark = len(feed.events)
    feed.publish(OpportunitySpec(partner_id=uuid.uuid4()))
    proposals = run(engine, feed, mark)
    fitting = [
        e.activity_id
        for e, _ in feed.events
        if isinstance(e, PlanActivityAdded)
        and (e.kind, e.location_region_code) == ("drainage", REGION)
    ]
    assert len(decided) == len(fitting) == len(proposals) > 0


def test_queries_rank_standing_matches_and_explain_a_pair() -> None:
    engine, feed, activity, better = world()
    worse = OpportunitySpec(partner_id=uuid.uuid4(), close_date=better.close_date.replace(2029))
    feed.publish(worse)
    run(engine, feed)
    ranked = engine.opportunities_for(activity.activity_id)
    assert [r.opportunity.opportunity_id for r in ranked] == [
        better.opportunity_id,
        worse.opportunity_id,
    ]
    assert ranked[0].score > ranked[1].score
    results, scored = engine.explain(activity.activity_id, better.opportunity_id)
    assert [r.rule for r in results] == list(RULE_NAMES)
    assert scored is not None
    partners_view = engine.activities_for(better.opportunity_id)
    assert [r.activity.activity_id for r in partners_view] == [activity.activity_id]
