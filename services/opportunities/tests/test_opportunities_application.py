"""Opportunities' story, told once and run twice: in memory and on real Postgres.

Registry's and partnerships' events reach the application through the same tracked
effects the Kafka consumer uses (a repeat is recognised by its tracking record, as the
consumer does), so exactly-once holds here too. Time is a fake clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking
from salur_contracts import partnerships, registry
from salur_contracts.base import IntegrationEvent
from salur_contracts.cloudevents import new_envelope
from salur_kit.auth import Principal, Role
from salur_kit.consumer import EventSourcedEffects
from salur_kit.errors import ForbiddenError, NotFoundError, RuleViolationError, StaleVersionError
from salur_opportunities.application import OpportunitiesApplication
from salur_opportunities.domain import Opportunity, Terms
from salur_opportunities.integration import to_integration

PUBLIC = Principal(subject="warga", role=Role.public)


class FakeClock:
    def __init__(self, today: dt.date) -> None:
        self.today = today

    def __call__(self) -> dt.date:
        return self.today


def officer(partner_id: UUID) -> Principal:
    return Principal(
        subject=f"officer-{partner_id}", role=Role.partner_officer, organisation_id=partner_id
    )


def water(**changes: object) -> Terms:
    fields: dict[str, object] = {
        "title": "Program CSR Air Bersih 2027",
        "description": "Sarana air bersih di kelurahan padat",
        "source_kind": "csr",
        "budget_code": None,
        "aspects": ("environment",),
        "activity_kinds": ("clean_water",),
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


@pytest.fixture
def app(event_store_env: Mapping[str, str]) -> Iterator[OpportunitiesApplication]:
    application = OpportunitiesApplication(event_store_env)
    application.clock = FakeClock(dt.date(2027, 1, 5))
    yield application
    application.close()


class Deliveries:
    """Other services' events, delivered as the tracked consumer would: a repeat is skipped."""

    def __init__(self, app: OpportunitiesApplication) -> None:
        self.effects = EventSourcedEffects(app, app.policy)
        self.versions: dict[str, int] = {}

    def tell(self, data: IntegrationEvent, *, again: bool = False) -> None:
        subject = str(getattr(data, data.subject_field))
        if not again:
            self.versions[subject] = self.versions.get(subject, 0) + 1
        envelope = new_envelope(data, aggregate_version=self.versions[subject])
        tracking = Tracking(f"opportunities:{envelope.source}:{subject}", self.versions[subject])
        if not self.effects.is_processed(tracking):
            self.effects.apply(envelope, tracking)

    def partner(self, partner_id: UUID, *, verified: bool) -> None:
        self.tell(
            registry.PartnerRegistered(
                partner_id=partner_id,
                kind="company_csr",
                name="PT Sinar Nusantara Tbk",
                contact_name="Budi",
                contact_email="csr@sinar.co.id",
                contact_phone="+62 22 4201234",
                regions_of_operation=["32.73"],
            )
        )
        if verified:
            self.tell(registry.PartnerVerified(partner_id=partner_id, verified_by="fasilitator"))


def signed(opportunity: Opportunity, amount: str, agreement_id: UUID) -> IntegrationEvent:
    return partnerships.AgreementSigned(
        agreement_id=agreement_id,
        proposal_id=uuid4(),
        plan_id=uuid4(),
        activity_id=uuid4(),
        bkm_id=uuid4(),
        partner_id=opportunity.partner_id,
        partner_name="PT Sinar Nusantara Tbk",
        opportunity_id=opportunity.id,
        amount=Decimal(amount),
        currency="IDR",
    )


def _parties() -> dict[str, UUID]:
    return {"plan_id": uuid4(), "activity_id": uuid4(), "bkm_id": uuid4(), "partner_id": uuid4()}


def disbursed(agreement_id: UUID, amount: str) -> IntegrationEvent:
    return partnerships.TrancheDisbursed(
        agreement_id=agreement_id,
        **_parties(),
        tranche_number=1,
        amount=Decimal(amount),
        currency="IDR",
        transfer_reference="TRF-1",
    )


def terminated(agreement_id: UUID, returned: str) -> IntegrationEvent:
    return partnerships.PartnershipTerminated(
        agreement_id=agreement_id,
        **_parties(),
        reason="BKM tidak melanjutkan",
        returned_amount=Decimal(returned),
        currency="IDR",
    )


def test_an_opportunity_from_draft_through_its_envelope_to_its_close_date(
    app: OpportunitiesApplication,
) -> None:
    others = Deliveries(app)
    partner_id, stranger = uuid4(), uuid4()
    me = officer(partner_id)

    # Registry has not reported the partner: nothing can be drafted for it.
    with pytest.raises(RuleViolationError) as unknown:
        app.draft_opportunity(me, partner_id=partner_id, terms=water())
    assert unknown.value.rule == "partner-registered"

    # Registered but not verified: a draft, but no publication.
    others.partner(partner_id, verified=False)
    draft = app.draft_opportunity(me, partner_id=partner_id, terms=water())
    with pytest.raises(RuleViolationError) as unverified:
        app.publish_opportunity(me, draft.id, None)
    assert unverified.value.rule == "partner-verified"

    # A draft is visible to its officers only; another partner's officer cannot touch it.
    with pytest.raises(NotFoundError):
        app.get_opportunity(PUBLIC, draft.id)
    with pytest.raises(NotFoundError):
        app.publish_opportunity(officer(stranger), draft.id, None)

    # Registry verifies the partner (told twice: once is enough); the officer publishes.
    others.tell(registry.PartnerVerified(partner_id=partner_id, verified_by="fasilitator"))
    published = app.publish_opportunity(me, draft.id, draft.version)
    assert (published.status, published.revision, published.partner_name) == (
        "open",
        1,
        "PT Sinar Nusantara Tbk",
    )
    assert app.get_opportunity(PUBLIC, draft.id).status == "open"

    # Revisions: only the owner's officers, only against the current version.
    with pytest.raises(ForbiddenError):
        app.change_terms(officer(stranger), draft.id, water(title="x"), None)
    with pytest.raises(StaleVersionError):
        app.change_terms(me, draft.id, water(title="x"), published.version - 1)
    revised = app.change_terms(me, draft.id, water(max_amount=Decimal("200000000.00")), None)
    assert [r.number for r in revised.revisions] == [1, 2]
    assert revised.revisions[0].terms.max_amount == Decimal("150000000.00")

    # Partnerships signs two agreements; the first is delivered twice and commits once.
    first, second, third = uuid4(), uuid4(), uuid4()
    others.tell(signed(revised, "200000000.00", first))
    others.tell(signed(revised, "200000000.00", first), again=True)
    others.tell(signed(revised, "80000000.00", second))
    current = app.get_opportunity(PUBLIC, draft.id)
    assert (current.committed, current.remaining, current.exhausted) == (
        Decimal("280000000.00"),
        Decimal("20000000.00"),
        True,
    )

    # A signing beyond what remains (partnerships should have refused it) changes nothing.
    with pytest.raises(RuleViolationError) as over:
        others.tell(signed(revised, "25000000.00", third))
    assert over.value.rule == "envelope-not-exceeded"
    assert app.get_opportunity(PUBLIC, draft.id).committed == Decimal("280000000.00")

    # The first agreement disburses 120M, is terminated, and the BKM returns 20M:
    # 200M - 120M + 20M = 100M goes back to the envelope, exactly once.
    others.tell(disbursed(first, "120000000.00"))
    termination = terminated(first, "20000000.00")
    others.tell(termination)
    others.tell(termination, again=True)
    current = app.get_opportunity(PUBLIC, draft.id)
    assert (current.committed, current.remaining, current.exhausted) == (
        Decimal("180000000.00"),
        Decimal("120000000.00"),
        False,
    )

    # The close date passes on the fake clock: the scheduled check closes it, once.
    assert not app.close_if_due(draft.id)
    app.clock = FakeClock(dt.date(2027, 7, 2))
    assert app.close_if_due(draft.id)
    assert not app.close_if_due(draft.id)
    closed = app.get_opportunity(PUBLIC, draft.id)
    assert (closed.status, closed.closed_on) == ("closed", dt.date(2027, 7, 1))

    # Every stored event of the opportunity is private or becomes a valid public event.
    public = [to_integration(e) for e in app.repository.event_store.get(draft.id)]
    assert [type(p).__name__ for p in public if p is not None] == [
        "OpportunityDrafted",
        "OpportunityPublished",
        "OpportunityRevised",
        "EnvelopeCommitted",
        "EnvelopeCommitted",
        "EnvelopeExhausted",
        "EnvelopeReleased",
        "OpportunityClosed",
    ]


def test_an_agreement_for_an_unknown_opportunity_or_agreement_is_refused(
    app: OpportunitiesApplication,
) -> None:
    others = Deliveries(app)
    with pytest.raises(RuleViolationError) as unknown:
        others.tell(
            partnerships.AgreementSigned(
                agreement_id=uuid4(),
                proposal_id=uuid4(),
                plan_id=uuid4(),
                activity_id=uuid4(),
                bkm_id=uuid4(),
                partner_id=uuid4(),
                partner_name="PT Lain",
                opportunity_id=uuid4(),
                amount=Decimal("1.00"),
                currency="IDR",
            )
        )
    assert unknown.value.rule == "opportunity-exists"
    with pytest.raises(RuleViolationError) as never:
        others.tell(terminated(uuid4(), "0.00"))
    assert never.value.rule == "agreement-committed"


def test_cancelling_a_draft_and_refusing_a_public_caller(app: OpportunitiesApplication) -> None:
    others = Deliveries(app)
    partner_id = uuid4()
    others.partner(partner_id, verified=True)
    draft = app.draft_opportunity(officer(partner_id), partner_id=partner_id, terms=water())
    with pytest.raises(ForbiddenError):
        app.draft_opportunity(PUBLIC, partner_id=partner_id, terms=water())
    cancelled = app.cancel_opportunity(officer(partner_id), draft.id, "batal", None)
    assert cancelled.status == "cancelled"
    with pytest.raises(RuleViolationError):
        app.publish_opportunity(officer(partner_id), draft.id, None)
