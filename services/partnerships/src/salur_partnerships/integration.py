"""Partnerships domain events -> public integration events (the only place the two meet).

Every proposal and agreement event carries `parties`; a public event takes from it the
fields it names, and from the event itself everything else of the same name.
"""

from __future__ import annotations

from typing import Any

from salur_contracts import partnerships as contract
from salur_contracts.base import IntegrationEvent
from salur_kit.integration import Mapping


def _from_parties(event_class: type[IntegrationEvent], **given: Any) -> Mapping:
    def build(e: Any) -> IntegrationEvent:
        source = {**e.parties, **vars(e)}
        values = {name: source[name] for name in event_class.model_fields if name in source}
        values[event_class.subject_field] = e.originator_id
        for name, value in given.items():
            values[name] = value(e) if callable(value) else value
        return event_class(**values)

    return build


MAPPINGS: dict[str, Mapping] = {
    "Proposal.Submitted": _from_parties(contract.ProposalSubmitted, currency="IDR", revision=1),
    "Proposal.Revised": _from_parties(contract.ProposalRevised, currency="IDR"),
    "Proposal.RevisionRequested": _from_parties(contract.ProposalRevisionRequested),
    "Proposal.Accepted": _from_parties(contract.ProposalAccepted, currency="IDR"),
    "Proposal.Rejected": _from_parties(contract.ProposalRejected),
    "Proposal.Withdrawn": _from_parties(contract.ProposalWithdrawn),
    "Agreement.PartnerSigned": _from_parties(contract.PartnerSigned),
    "Agreement.BkmSigned": _from_parties(contract.BkmSigned),
    "Agreement.InForce": _from_parties(contract.AgreementSigned),
    "Agreement.TrancheDisbursed": _from_parties(contract.TrancheDisbursed),
    "Agreement.ReceiptConfirmed": _from_parties(contract.ReceiptConfirmed),
    "Agreement.RealisationReported": _from_parties(contract.RealisationReported),
    "Agreement.RealisationAccepted": _from_parties(contract.RealisationAccepted),
    "Agreement.RealisationRejected": _from_parties(contract.RealisationRejected),
    "Agreement.Completed": _from_parties(contract.PartnershipCompleted),
    "Agreement.Terminated": _from_parties(contract.PartnershipTerminated),
}

# Drafts are working papers until signed; what partnerships learned from other services is
# theirs to publish; the proposal's link to its agreement shows in the agreement's events.
PRIVATE = frozenset(
    {
        "Agreement.Drafted",
        "Proposal.AgreementDrawn",
        *(
            f"{known}.{name}"
            for known in ("KnownBkm", "KnownPartner", "KnownPlan", "KnownMatch", "KnownOpportunity")
            for name in (
                "Learned",
                "Followed",
                "Verified",
                "ActivityDescribed",
                "Withdrawn",
                "Reproposed",
                "TermsSet",
                "Ended",
                "EnvelopeMoved",
                "Reserved",
            )
        ),
    }
)


def to_integration(domain_event: Any) -> IntegrationEvent | None:
    """Every proposal and agreement fact is public; an unmapped one is a programming error."""
    name = type(domain_event).__qualname__
    if name in PRIVATE:
        return None
    return MAPPINGS[name](domain_event)
