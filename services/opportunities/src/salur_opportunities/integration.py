"""Opportunities domain events -> public integration events (the only place they meet)."""

from __future__ import annotations

from typing import Any

from salur_contracts import opportunities as contract
from salur_contracts.base import IntegrationEvent
from salur_contracts.values import CURRENCY
from salur_kit.integration import Mapping, copied

from salur_opportunities.domain import Terms


def _terms(e: Any) -> dict[str, Any]:
    terms = Terms.from_state(e.terms)
    return {
        "opportunity_id": e.originator_id,
        "partner_id": e.partner_id,
        "revision": e.revision,
        "partner_name": e.partner_name,
        "title": terms.title,
        "description": terms.description,
        "source_kind": terms.source_kind,
        "budget_code": terms.budget_code,
        "aspects": list(terms.aspects),
        "activity_kinds": list(terms.activity_kinds),
        "eligible_regions": list(terms.eligible_regions),
        "min_amount": terms.min_amount,
        "max_amount": terms.max_amount,
        "envelope": terms.envelope,
        "currency": CURRENCY,
        "required_swadaya_percent": f"{terms.required_swadaya_percent.normalize():f}",
        "open_date": terms.open_date,
        "close_date": terms.close_date,
        "requirements": terms.requirements,
    }


def _drafted(e: Any) -> IntegrationEvent:
    return contract.OpportunityDrafted(
        opportunity_id=e.originator_id,
        partner_id=e.partner_id,
        title=e.terms["title"],
        drafted_by=e.drafted_by,
    )


def _published(e: Any) -> IntegrationEvent:
    return contract.OpportunityPublished(**_terms(e), published_by=e.published_by)


def _revised(e: Any) -> IntegrationEvent:
    return contract.OpportunityRevised(**_terms(e), revised_by=e.revised_by)


MAPPINGS: dict[str, Mapping] = {
    "Opportunity.Drafted": _drafted,
    "Opportunity.Published": _published,
    "Opportunity.Revised": _revised,
    "Opportunity.Closed": copied(contract.OpportunityClosed),
    "Opportunity.Cancelled": copied(contract.OpportunityCancelled),
    "Opportunity.EnvelopeCommitted": copied(contract.EnvelopeCommitted, currency=CURRENCY),
    "Opportunity.EnvelopeReleased": copied(contract.EnvelopeReleased, currency=CURRENCY),
    "Opportunity.EnvelopeExhausted": copied(contract.EnvelopeExhausted, currency=CURRENCY),
}

# Private: a draft's edits are the partner's working copy until published; disbursements,
# spent commitments and re-armed exhaustion only keep the envelope's books (the public
# envelope events carry running totals); partners are registry's to publish.
PRIVATE = frozenset(
    {
        "Opportunity.DraftEdited",
        "Opportunity.DisbursementRecorded",
        "Opportunity.CommitmentSpent",
        "Opportunity.EnvelopeReplenished",
        "KnownPartner.Learned",
        "KnownPartner.Described",
        "KnownPartner.Verified",
        "AgreementLink.Linked",
    }
)


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    """Every other opportunity event is public; an unmapped one is a programming error."""
    name = type(domain_event).__qualname__
    if name in PRIVATE:
        return None
    return MAPPINGS[name](domain_event)
