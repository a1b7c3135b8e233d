"""Properties over random worlds (hypothesis): every proposed match passes every hard rule,
the standing matches are exactly the eligible pairs whatever the order the topics
interleave in, and the ranking is a deterministic function of the facts."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from salur_matching.engine import Engine, Proposal
from salur_matching.examples import ActivitySpec, Feed, OpportunitySpec, Versioned
from salur_matching.ranking import score
from salur_matching.rules import eligible, evaluate

pytestmark = pytest.mark.unit

REGIONS = ["32.73.01.1001", "32.73.02.1002", "32.74.01.1001", "31.71.01.1001"]
PREFIXES = ["32", "32.73", "32.73.01", "32.74", "31.71.01.1001"]
KINDS = ["drainage", "clean_water", "roads"]
ASPECTS = ["environment", "social"]
money = st.integers(min_value=1, max_value=300).map(lambda m: Decimal(m) * 1_000_000)


@st.composite
def worlds(draw: st.DrawFn) -> Feed:
    """BKMs, partners, activities and opportunities, each aggregate's events in its order."""
    feed = Feed()
    bkms = [(uuid.uuid4(), draw(st.sampled_from(REGIONS))) for _ in range(3)]
    for bkm_id, region in bkms:
        feed.bkm(bkm_id, region, verified=draw(st.booleans()))
        if draw(st.booleans()):
            feed.suspend(bkm_id, region)
            if draw(st.booleans()):
                feed.reinstate(bkm_id, region)
    partners = [uuid.uuid4() for _ in range(2)]
    for partner_id in partners:
        if draw(st.booleans()):
            feed.partner(partner_id, draw(st.lists(st.sampled_from(PREFIXES), min_size=1)))
    for _ in range(draw(st.integers(1, 6))):
        bkm_id, region = draw(st.sampled_from(bkms))
        cost = draw(money) * 2
        spec = ActivitySpec(
            bkm_id=bkm_id,
            bkm_region=region,
            region=draw(st.sampled_from(REGIONS)),
            aspect=draw(st.sampled_from(ASPECTS)),
            kind=draw(st.sampled_from(KINDS)),
            cost=cost,
            swadaya=cost * draw(st.integers(0, 40)) / 100,
            poor_households=draw(st.integers(0, 500)),
            priority=draw(st.integers(1, 12)),
            year=draw(st.integers(2026, 2029)),
        )
        need = min(draw(money), cost)
        opened = draw(st.integers(0, 4)) > 0
        feed.activity(spec, open_for=need if opened else None)
        steps = ["none", "matched", "partial", "funded", "cancel"]
        step = draw(st.sampled_from(steps)) if opened else ""
        if step == "matched":
            feed.funding(spec, "matched", needed=need, committed=Decimal(0))
        elif step == "partial":
            feed.funding(spec, "partially_funded", needed=need, committed=need / 2)
        elif step == "funded":
            feed.funding(spec, "funded", needed=need, committed=need)
        elif step == "cancel":
            feed.cancel(spec)
    for _ in range(draw(st.integers(1, 5))):
        low = draw(money)
        o = OpportunitySpec(
            partner_id=draw(st.sampled_from(partners)),
            aspects=draw(st.lists(st.sampled_from(ASPECTS), min_size=1, unique=True)),
            kinds=draw(st.lists(st.sampled_from(KINDS), min_size=1, unique=True)),
            regions=draw(st.lists(st.sampled_from(PREFIXES), min_size=1, unique=True)),
            min_amount=low,
            max_amount=low + draw(money),
            envelope=low * draw(st.integers(1, 20)),
            swadaya_percent=str(draw(st.integers(0, 30))),
            close_date=dt.date(draw(st.integers(2026, 2029)), 6, 30),
        )
        feed.publish(o)
        step = draw(st.sampled_from(["none", "revise", "commit", "close", "cancel"]))
        if step == "revise":
            o.kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, unique=True))
            feed.revise_terms(o)
        elif step == "commit":
            feed.commit(o, o.envelope / 2, o.envelope / 2)
        elif step == "close":
            feed.close(o)
        elif step == "cancel":
            feed.cancel_opportunity(o)
    return feed


def interleaved(events: list[Versioned], seed: int) -> list[Versioned]:
    """Another order of the same events that keeps each aggregate's own order (what Kafka
    guarantees: one key, one partition)."""
    queues: dict[str, list[Versioned]] = defaultdict(list)
    for item in events:
        queues[item[0].subject].append(item)
    rng = random.Random(seed)
    order: list[Versioned] = []
    while queues:
        subject = rng.choice(sorted(queues))
        order.append(queues[subject].pop(0))
        if not queues[subject]:
            del queues[subject]
    return order


@settings(max_examples=80, deadline=None)
@given(worlds())
def test_every_proposed_match_satisfies_every_hard_rule_when_proposed(feed: Feed) -> None:
    engine = Engine()
    for event, version in feed.events:
        for t in engine.apply(event, version).transitions:
            if isinstance(t, Proposal):
                a = engine.activities[t.activity.activity_id]
                o = engine.opportunities[t.opportunity.opportunity_id]
                assert all(r.passed for r in evaluate(a, o, engine.bkms.get(a.bkm_id)))
    assert engine.standing() == engine.eligible_pairs()


@settings(max_examples=60, deadline=None)
@given(worlds(), st.integers(0, 2**32))
def test_standing_matches_converge_whatever_the_interleaving_of_topics(
    feed: Feed, seed: int
) -> None:
    live, other, rebuilt = Engine(), Engine(), Engine()
    for event, version in feed.events:
        live.apply(event, version)
    for event, version in interleaved(feed.events, seed):
        other.apply(event, version)
        rebuilt.apply(event, version, decide=False)
    rebuilt.settle()
    assert live.standing() == other.standing() == rebuilt.standing()
    for activity_id in live.by_activity:
        ranks = [
            [(r.opportunity.opportunity_id, r.score) for r in e.opportunities_for(activity_id)]
            for e in (live, other, rebuilt)
        ]
        assert ranks[0] == ranks[1] == ranks[2]


@settings(max_examples=60, deadline=None)
@given(worlds())
def test_the_fast_eligibility_check_agrees_with_the_named_rules(feed: Feed) -> None:
    engine = Engine()
    for event, version in feed.events:
        engine.apply(event, version)
    for a in engine.activities.values():
        for o in engine.opportunities.values():
            bkm = engine.bkms.get(a.bkm_id)
            assert eligible(a, o, bkm) == all(r.passed for r in evaluate(a, o, bkm))


@settings(max_examples=60, deadline=None)
@given(worlds())
def test_scores_are_deterministic_integers_within_bounds(feed: Feed) -> None:
    engine = Engine()
    for event, version in feed.events:
        engine.apply(event, version)
    for a in engine.activities.values():
        for o in engine.opportunities.values():
            partner = engine.partners.get(o.partner_id)
            first, reasons = score(a, o, partner)
            assert (first, reasons) == score(a, o, partner)
            assert isinstance(first, int)
            assert 0 <= first <= 10_000
            assert first == sum(r.points for r in reasons)
            assert all(isinstance(r.points, int) and r.points >= 0 for r in reasons)
