"""Opportunity rules, on the aggregate alone: terms, lifecycle, envelope and revisions."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from uuid import uuid4

import pytest
from salur_kit.errors import RuleViolationError
from salur_opportunities.domain import (
    Commitment,
    KnownPartner,
    Opportunity,
    Terms,
    release_on_termination,
)

pytestmark = pytest.mark.unit

PARTNER = uuid4()
TODAY = dt.date(2027, 1, 10)


def terms(**changes: object) -> Terms:
    fields: dict[str, object] = {
        "title": "Program CSR Air Bersih 2027",
        "description": "Sarana air bersih",
        "source_kind": "csr",
        "budget_code": None,
        "aspects": ("environment",),
        "activity_kinds": ("clean_water", "sanitation"),
        "eligible_regions": ("32.73",),
        "min_amount": Decimal("25000000.00"),
        "max_amount": Decimal("150000000.00"),
        "envelope": Decimal("300000000.00"),
        "required_swadaya_percent": Decimal("10"),
        "open_date": dt.date(2027, 1, 1),
        "close_date": dt.date(2027, 6, 30),
        "requirements": "Proposal, RAB",
    }
    return Terms(**(fields | changes))  # type: ignore[arg-type]


def opened(**changes: object) -> Opportunity:
    opportunity = Opportunity.draft(uuid4(), PARTNER, terms(**changes), "officer")
    opportunity.publish("PT Sinar", "officer", TODAY)
    return opportunity


# -- terms -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"close_date": dt.date(2026, 12, 31)}, "close_date", "close-not-before-open"),
        ({"min_amount": Decimal("200000000.00")}, "min_amount", "min-not-above-max"),
        ({"max_amount": Decimal("400000000.00")}, "max_amount", "max-within-envelope"),
        ({"required_swadaya_percent": Decimal("101")}, "required_swadaya_percent", "percentage"),
        ({"source_kind": "apbd"}, "budget_code", "budget-code-for-apbd"),
        ({"budget_code": "1.03.01"}, "budget_code", "budget-code-for-apbd"),
        ({"eligible_regions": ("32.7",)}, "eligible_regions", "region-prefix"),
        ({"min_amount": Decimal("0.00")}, "min_amount", "positive-money"),
    ],
)
def test_refuses_terms_that_break_a_rule(changes: dict[str, object], field: str, rule: str) -> None:
    with pytest.raises(RuleViolationError) as refusal:
        Opportunity.draft(uuid4(), PARTNER, terms(**changes), "officer")
    assert (refusal.value.field, refusal.value.rule) == (field, rule)


def test_an_apbd_opportunity_names_its_budget_code() -> None:
    draft = Opportunity.draft(
        uuid4(), PARTNER, terms(source_kind="apbd", budget_code="1.03.01.2.01"), "officer"
    )
    assert draft.terms.budget_code == "1.03.01.2.01"


def test_repeated_aspects_kinds_and_prefixes_count_once() -> None:
    draft = Opportunity.draft(
        uuid4(),
        PARTNER,
        terms(aspects=("social", "environment", "social"), eligible_regions=("32.73", "32", "32")),
        "officer",
    )
    assert draft.terms.aspects == ("environment", "social")
    assert draft.terms.eligible_regions == ("32", "32.73")
    assert draft.terms.covers("32.73.01.1001")
    assert not draft.terms.covers("31.71.01.1001")


# -- lifecycle -------------------------------------------------------------------------------


def test_publishing_opens_revision_one_and_revising_adds_the_next() -> None:
    opportunity = opened()
    assert (opportunity.status, opportunity.revision) == ("open", 1)
    opportunity.change_terms(terms(title="Air Bersih 2027 (diperluas)"), "officer-2", TODAY)
    assert opportunity.revision == 2
    first, second = opportunity.revisions
    assert (first.number, first.terms.title, first.by) == (
        1,
        "Program CSR Air Bersih 2027",
        "officer",
    )
    assert (second.number, second.terms.title, second.by, second.on) == (
        2,
        "Air Bersih 2027 (diperluas)",
        "officer-2",
        TODAY,
    )


def test_a_draft_is_edited_in_place_without_a_revision() -> None:
    draft = Opportunity.draft(uuid4(), PARTNER, terms(), "officer")
    draft.change_terms(terms(title="Judul baru"), "officer", TODAY)
    assert (draft.status, draft.revision, draft.terms.title) == ("draft", 0, "Judul baru")


def test_refuses_a_revision_that_changes_nothing() -> None:
    opportunity = opened()
    with pytest.raises(RuleViolationError, match="changes nothing"):
        opportunity.change_terms(terms(), "officer", TODAY)


def test_refuses_to_publish_after_the_close_date() -> None:
    draft = Opportunity.draft(uuid4(), PARTNER, terms(), "officer")
    with pytest.raises(RuleViolationError) as refusal:
        draft.publish("PT Sinar", "officer", dt.date(2027, 7, 1))
    assert refusal.value.rule == "close-date-not-passed"
    assert draft.status == "draft"


def test_refuses_to_publish_twice_or_revise_a_closed_opportunity() -> None:
    opportunity = opened()
    with pytest.raises(RuleViolationError) as twice:
        opportunity.publish("PT Sinar", "officer", TODAY)
    assert twice.value.rule == "opportunity-draft"
    opportunity.close(TODAY)
    with pytest.raises(RuleViolationError) as revised:
        opportunity.change_terms(terms(title="x"), "officer", TODAY)
    assert revised.value.rule == "opportunity-open"


def test_closes_by_itself_only_after_its_close_date() -> None:
    opportunity = opened()
    assert not opportunity.close_if_due(dt.date(2027, 6, 30))
    assert opportunity.close_if_due(dt.date(2027, 7, 3))
    assert (opportunity.status, opportunity.closed_on) == ("closed", dt.date(2027, 7, 1))
    assert not opportunity.close_if_due(dt.date(2027, 7, 4))


def test_a_draft_is_never_closed_by_its_date() -> None:
    draft = Opportunity.draft(uuid4(), PARTNER, terms(), "officer")
    assert not draft.close_if_due(dt.date(2028, 1, 1))
    assert draft.status == "draft"


def test_refuses_to_cancel_once_the_envelope_is_committed() -> None:
    opportunity = opened()
    opportunity.commit(uuid4(), PARTNER, Decimal("50000000.00"))
    with pytest.raises(RuleViolationError) as refusal:
        opportunity.cancel("anggaran dialihkan", "officer")
    assert refusal.value.rule == "nothing-committed"
    assert opportunity.status == "open"


def test_cancels_an_open_opportunity_nothing_committed_to() -> None:
    opportunity = opened()
    opportunity.cancel("anggaran dialihkan", "officer")
    assert opportunity.status == "cancelled"


# -- envelope --------------------------------------------------------------------------------


def test_commits_until_the_envelope_is_exhausted_and_says_so_once() -> None:
    opportunity = opened()
    opportunity.commit(uuid4(), PARTNER, Decimal("150000000.00"))
    opportunity.commit(uuid4(), PARTNER, Decimal("130000000.00"))
    assert (opportunity.committed, opportunity.remaining) == (
        Decimal("280000000.00"),
        Decimal("20000000.00"),
    )
    assert opportunity.exhausted
    events = [type(e).__qualname__ for e in opportunity.collect_events()]
    assert events.count("Opportunity.EnvelopeExhausted") == 1
    assert events[-2:] == ["Opportunity.EnvelopeCommitted", "Opportunity.EnvelopeExhausted"]


def test_refuses_an_over_commitment_and_commits_nothing() -> None:
    opportunity = opened()
    opportunity.commit(uuid4(), PARTNER, Decimal("150000000.00"))
    with pytest.raises(RuleViolationError) as refusal:
        opportunity.commit(uuid4(), PARTNER, Decimal("150000000.01"))
    assert (refusal.value.field, refusal.value.rule) == ("amount", "envelope-not-exceeded")
    assert opportunity.committed == Decimal("150000000.00")


def test_refuses_an_agreement_of_another_partner_or_one_committed_twice() -> None:
    opportunity = opened()
    with pytest.raises(RuleViolationError) as other:
        opportunity.commit(uuid4(), uuid4(), Decimal("30000000.00"))
    assert other.value.rule == "partner-of-opportunity"
    agreement = uuid4()
    opportunity.commit(agreement, PARTNER, Decimal("30000000.00"))
    with pytest.raises(RuleViolationError) as twice:
        opportunity.commit(agreement, PARTNER, Decimal("30000000.00"))
    assert twice.value.rule == "agreement-commits-once"


def test_refuses_an_agreement_against_a_draft_or_cancelled_opportunity() -> None:
    draft = Opportunity.draft(uuid4(), PARTNER, terms(), "officer")
    cancelled = opened()
    cancelled.cancel("anggaran dialihkan", "officer")
    for opportunity in (draft, cancelled):
        with pytest.raises(RuleViolationError) as refusal:
            opportunity.commit(uuid4(), PARTNER, Decimal("30000000.00"))
        assert refusal.value.rule == "opportunity-published"
        assert opportunity.committed == 0


def test_a_closed_opportunity_still_takes_agreements_from_proposals_already_made() -> None:
    opportunity = opened()
    opportunity.close(TODAY)
    opportunity.commit(uuid4(), PARTNER, Decimal("30000000.00"))
    assert opportunity.committed == Decimal("30000000.00")


@pytest.mark.parametrize(
    ("amount", "disbursed", "returned", "released"),
    [
        ("100.00", "0.00", "0.00", "100.00"),  # nothing disbursed: all of it
        ("100.00", "60.00", "0.00", "40.00"),  # what was never disbursed
        ("100.00", "60.00", "25.00", "65.00"),  # plus what the BKM returned
        ("100.00", "100.00", "100.00", "100.00"),  # everything returned
        ("100.00", "100.00", "0.00", "0.00"),  # all spent: nothing
    ],
)
def test_a_termination_releases_the_undisbursed_part_plus_what_was_returned(
    amount: str, disbursed: str, returned: str, released: str
) -> None:
    commitment = Commitment(amount=Decimal(amount), disbursed=Decimal(disbursed))
    assert release_on_termination(commitment, Decimal(returned)) == Decimal(released)


def test_a_termination_gives_back_to_the_envelope_and_re_arms_exhaustion() -> None:
    opportunity = opened()
    agreement = uuid4()
    opportunity.commit(agreement, PARTNER, Decimal("150000000.00"))
    opportunity.commit(uuid4(), PARTNER, Decimal("150000000.00"))
    assert opportunity.exhausted
    opportunity.record_disbursement(agreement, Decimal("50000000.00"))
    opportunity.release(agreement, Decimal("10000000.00"))
    assert (opportunity.committed, opportunity.remaining) == (
        Decimal("190000000.00"),
        Decimal("110000000.00"),
    )
    assert not opportunity.exhausted
    with pytest.raises(RuleViolationError) as again:
        opportunity.release(agreement, Decimal("0.00"))
    assert again.value.rule == "agreement-terminates-once"


def test_a_fully_spent_termination_releases_nothing_and_publishes_no_release() -> None:
    opportunity = opened()
    agreement = uuid4()
    opportunity.commit(agreement, PARTNER, Decimal("50000000.00"))
    opportunity.record_disbursement(agreement, Decimal("50000000.00"))
    opportunity.collect_events()
    opportunity.release(agreement, Decimal("0.00"))
    assert [type(e).__qualname__ for e in opportunity.collect_events()] == [
        "Opportunity.CommitmentSpent"
    ]
    assert opportunity.committed == Decimal("50000000.00")


def test_refuses_to_shrink_the_envelope_below_what_is_committed() -> None:
    opportunity = opened()
    opportunity.commit(uuid4(), PARTNER, Decimal("150000000.00"))
    with pytest.raises(RuleViolationError) as refusal:
        opportunity.change_terms(
            terms(envelope=Decimal("149999999.99"), max_amount=Decimal("100000000.00")), "o", TODAY
        )
    assert refusal.value.rule == "envelope-covers-committed"
    assert opportunity.revision == 1


def test_refuses_a_tranche_of_an_agreement_never_committed() -> None:
    opportunity = opened()
    with pytest.raises(RuleViolationError) as refusal:
        opportunity.record_disbursement(uuid4(), Decimal("1.00"))
    assert refusal.value.rule == "agreement-committed"


# -- partners --------------------------------------------------------------------------------


def test_only_a_verified_partner_with_a_name_may_publish() -> None:
    partner = KnownPartner(id=uuid4(), name=None, kind=None)
    partner.verify()
    with pytest.raises(RuleViolationError):
        partner.require_can_publish()
    partner.registered("PT Sinar", "company_csr")
    assert partner.require_can_publish() == "PT Sinar"
    unverified = KnownPartner(id=uuid4(), name="PT Lain", kind="bank")
    with pytest.raises(RuleViolationError) as refusal:
        unverified.require_can_publish()
    assert (refusal.value.field, refusal.value.rule) == ("partner_id", "partner-verified")


def test_terms_survive_their_stored_form() -> None:
    original = terms(aspects=("economy", "social"))
    assert Terms.from_state(dataclasses.asdict(original)) == original


def test_revising_the_envelope_re_arms_exhaustion_or_reports_it() -> None:
    opportunity = opened()
    opportunity.commit(uuid4(), PARTNER, Decimal("150000000.00"))
    opportunity.commit(uuid4(), PARTNER, Decimal("140000000.00"))
    assert opportunity.exhausted
    opportunity.change_terms(terms(envelope=Decimal("400000000.00")), "officer", TODAY)
    assert (opportunity.remaining, opportunity.exhausted) == (Decimal("110000000.00"), False)
    opportunity.collect_events()
    opportunity.change_terms(terms(envelope=Decimal("300000000.00")), "officer", TODAY)
    assert [type(e).__qualname__ for e in opportunity.collect_events()] == [
        "Opportunity.Revised",
        "Opportunity.EnvelopeExhausted",
    ]
