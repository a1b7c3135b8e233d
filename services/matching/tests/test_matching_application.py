"""The application as the tracked consumer drives it: each event's facts, match events and
tracking commit together; a restart on the same database reloads the state and proposes no
standing pair again; stored match events become valid public events. Runs in memory and on
real Postgres (the durability checks on Postgres only)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal

import pytest
from salur_contracts import matching
from salur_contracts.cloudevents import decode, encode, new_envelope
from salur_kit.consumer import Outcome
from salur_matching.application import MatchingApplication
from salur_matching.examples import ActivitySpec, Feed, OpportunitySpec, consumer_of, deliver
from salur_matching.integration import to_integration

REGION = "32.73.01.1001"
NEED = Decimal("100000000.00")


MatchEvent = matching.MatchProposed | matching.MatchWithdrawn


def stored_match_events(app: MatchingApplication) -> list[MatchEvent]:
    found = []
    for notification in app.recorder.select_notifications(1, 10_000):
        data = to_integration(app.mapper.to_domain_event(notification))
        assert isinstance(data, matching.MatchProposed | matching.MatchWithdrawn)
        found.append(data)
    return found


def world() -> tuple[Feed, ActivitySpec, OpportunitySpec]:
    feed = Feed()
    bkm_id, partner_id = uuid.uuid4(), uuid.uuid4()
    feed.bkm(bkm_id, REGION)
    feed.partner(partner_id, ["32.73"])
    activity = ActivitySpec(bkm_id=bkm_id, bkm_region=REGION)
    feed.activity(activity, open_for=NEED)
    opportunity = OpportunitySpec(partner_id=partner_id)
    feed.publish(opportunity)
    return feed, activity, opportunity


async def test_a_consumed_event_stores_its_match_event_as_a_valid_public_event(
    event_store_env: Mapping[str, str],
) -> None:
    app = MatchingApplication(event_store_env)
    feed, activity, opportunity = world()

    # The other services' events arrive through the tracked consumer.
    outcomes = await deliver(consumer_of(app), feed.events)
    assert outcomes == [Outcome.APPLIED] * len(feed.events)

    # One match was proposed, stored as matching's own event, and maps to the contract.
    [proposed] = stored_match_events(app)
    assert isinstance(proposed, matching.MatchProposed)
    assert proposed.match_id == matching.match_id(activity.activity_id, opportunity.opportunity_id)
    assert (proposed.amount_needed, proposed.score, proposed.currency) == (NEED, 7300, "IDR")
    assert len(proposed.rules_passed) == 10
    record = encode(new_envelope(proposed, aggregate_version=1))
    assert decode(record.key, record.value, record.headers).data == proposed

    # The opportunity closes: the match is withdrawn, with the reason, at version 2.
    mark = len(feed.events)
    feed.close(opportunity)
    await deliver(consumer_of(app), feed.events[mark:])
    withdrawn = stored_match_events(app)[-1]
    assert isinstance(withdrawn, matching.MatchWithdrawn)
    assert withdrawn.withdrawn_because == "opportunity_closed"
    assert app.recorder.max_notification_id() == 2


async def test_a_redelivered_event_is_a_duplicate_with_no_second_proposal(
    event_store_env: Mapping[str, str],
) -> None:
    app = MatchingApplication(event_store_env)
    feed, _, _ = world()
    consumer = consumer_of(app)
    await deliver(consumer, feed.events)
    again = await deliver(consumer, feed.events)
    assert again == [Outcome.DUPLICATE] * len(feed.events)
    assert len(stored_match_events(app)) == 1


@pytest.mark.integration
async def test_a_restart_reloads_facts_and_matches_and_never_proposes_a_standing_pair_again(
    fresh_database_url: str,
) -> None:
    from salur_kit.eventstore import postgres_env

    env = postgres_env(fresh_database_url)
    feed, activity, opportunity = world()
    first = MatchingApplication(env)
    await deliver(consumer_of(first), feed.events)
    first.close()

    # A new process on the same database knows what the first decided.
    second = MatchingApplication(env)
    pair = (activity.activity_id, opportunity.opportunity_id)
    assert second.engine.standing() == {pair}
    assert second.engine.activities[activity.activity_id].outstanding == 10_000_000_000
    # The same activity re-opened in a replay from another partition offset: no new event.
    await deliver(consumer_of(second), feed.events[-2:])
    # A second opportunity: only the new pair is proposed, at version 1.
    mark = len(feed.events)
    another = OpportunitySpec(partner_id=opportunity.partner_id)
    feed.publish(another)
    await deliver(consumer_of(second), feed.events[mark:])
    events = stored_match_events(second)
    assert [(e.opportunity_id, type(e).__name__) for e in events] == [
        (opportunity.opportunity_id, "MatchProposed"),
        (another.opportunity_id, "MatchProposed"),
    ]
    # A withdrawal after the restart continues the stored version.
    mark = len(feed.events)
    feed.suspend(activity.bkm_id, REGION)
    await deliver(consumer_of(second), feed.events[mark:])
    assert second.engine.versions[pair] == 2
    assert len(stored_match_events(second)) == 4
    second.close()


@pytest.mark.integration
async def test_a_failed_transaction_leaves_memory_as_it_was(fresh_database_url: str) -> None:
    from eventsourcing.persistence import IntegrityError, Tracking
    from salur_kit.eventstore import postgres_env

    app = MatchingApplication(postgres_env(fresh_database_url))
    feed, _activity, opportunity = world()
    for event, version in feed.events[:-1]:
        app.take_into_account(event, version, Tracking(f"t:{event.subject}", version))
    published, version = feed.events[-1]
    app.take_into_account(published, version, Tracking("taken", 5))
    before = dict(app.engine.versions)
    # The same tracking position again: Postgres refuses the transaction.
    feed.close(opportunity)
    closed, closed_version = feed.events[-1]
    with pytest.raises(IntegrityError):
        app.take_into_account(closed, closed_version, Tracking("taken", 5))
    assert app.engine.versions == before
    assert app.engine.opportunities[opportunity.opportunity_id].status == "open"
    app.close()


def test_the_service_consumes_the_three_input_topics_and_dead_letters_to_its_own_topic() -> None:
    from salur_kit.consumer import dead_letter_topic
    from salur_matching.bootstrap import CONSUMER, SPEC

    assert CONSUMER.group == "matching"
    assert dead_letter_topic(CONSUMER.group) == "salur.dlq.matching"
    assert set(CONSUMER.topics) == {
        "salur.registry.events.v1",
        "salur.planning.events.v1",
        "salur.opportunities.events.v1",
    }
    assert SPEC.topic == "salur.matching.events.v1"
