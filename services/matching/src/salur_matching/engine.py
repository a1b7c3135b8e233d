"""The matching engine: facts in memory, indexed by aspect, kind and region prefix, and the
incremental decision of which pairs stand as proposed matches.

An event changes one fact (an activity, an opportunity, a BKM or a partner). Only the pairs
that fact can affect are decided again: for an activity, the open opportunities in its
(aspect, kind, prefix) buckets (four region prefixes: four lookups) plus its standing
matches; for an opportunity, the seeking activities in its aspects x kinds x eligible
prefixes buckets plus its standing matches; for a BKM, each of its activities. Never the
cross product.

A pair *stands* (is proposed) exactly when it is eligible now. Each change of standing is
one match event, so a match's version is odd while it stands and even once withdrawn; a
pair eligible again after a withdrawal is proposed again under the same id. The set of
standing pairs is therefore a function of the current facts alone, which is why a rebuild
that applies the same events in another inter-topic order ends with the same matches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from salur_contracts import opportunities as opp
from salur_contracts import planning as plan
from salur_contracts import registry as reg
from salur_contracts.base import IntegrationEvent

from salur_matching.facts import (
    Activity,
    Bkm,
    Opportunity,
    Partner,
    basis_points,
    cents,
    intern,
    new_activity,
    prefixes,
    texts,
)
from salur_matching.ranking import Reason, score
from salur_matching.rules import RuleResult, eligible, evaluate, why_not

Pair = tuple[UUID, UUID]
Bucket = tuple[str, str, str]
MatchRow = tuple[UUID, UUID, int]

_BKM_STATUS: dict[type[IntegrationEvent], str] = {
    reg.BkmRegistered: "registered",
    reg.BkmVerified: "verified",
    reg.BkmSuspended: "suspended",
    reg.BkmReinstated: "verified",
}
BKM_EVENTS = (reg.BkmRegistered, reg.BkmVerified, reg.BkmSuspended, reg.BkmReinstated)
DESCRIBING_EVENTS = (plan.PlanActivityAdded, plan.PlanActivityRevised)
CHANNELLING_EVENTS = (
    plan.PlanActivityRemoved,
    plan.ActivityChannellingOpened,
    plan.ActivityChannellingCancelled,
    plan.ActivityFundingUpdated,
)
OPPORTUNITY_EVENTS = (
    opp.OpportunityPublished,
    opp.OpportunityRevised,
    opp.OpportunityClosed,
    opp.OpportunityCancelled,
    opp.EnvelopeCommitted,
    opp.EnvelopeReleased,
    opp.EnvelopeExhausted,
)
# What `apply` takes into account; the rest of its topics' events change nothing here.
HANDLED: tuple[type[IntegrationEvent], ...] = (
    reg.PartnerRegistered,
    *BKM_EVENTS,
    *DESCRIBING_EVENTS,
    *CHANNELLING_EVENTS,
    *OPPORTUNITY_EVENTS,
)
APPLIED: tuple[type[IntegrationEvent], ...] = (
    reg.PartnerRegistered,
    *BKM_EVENTS,
    *DESCRIBING_EVENTS,
    *CHANNELLING_EVENTS,
    *OPPORTUNITY_EVENTS,
)
"""Every event type that can change a fact; any other changes nothing."""


@dataclass(frozen=True, slots=True)
class Proposal:
    activity: Activity
    opportunity: Opportunity
    version: int
    score: int
    reasons: list[Reason]


@dataclass(frozen=True, slots=True)
class Withdrawal:
    activity: Activity
    opportunity: Opportunity
    version: int
    because: str
    explanation: str


Transition = Proposal | Withdrawal
Fact = Activity | Opportunity | Bkm | Partner
FactRow = tuple[str, UUID, Fact]
"""A changed fact: its kind, its id, and the fact (its row is built only when stored)."""


@dataclass
class Change:
    """What one event changed: fact rows to store, match transitions, and how to undo it."""

    facts: list[FactRow] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    undo_steps: list[Callable[[], None]] = field(default_factory=list)

    def undo(self) -> None:
        """Put memory back as it was (the transaction that should have stored it failed)."""
        for step in reversed(self.undo_steps):
            step()
        self.undo_steps.clear()


@dataclass(frozen=True, slots=True)
class Ranked:
    activity: Activity
    opportunity: Opportunity
    score: int
    reasons: list[Reason]


class Engine:
    def __init__(self) -> None:
        self.activities: dict[UUID, Activity] = {}
        self.opportunities: dict[UUID, Opportunity] = {}
        self.bkms: dict[UUID, Bkm] = {}
        self.partners: dict[UUID, Partner] = {}
        self.versions: dict[Pair, int] = {}
        self.by_activity: dict[UUID, set[UUID]] = {}
        self.by_opportunity: dict[UUID, set[UUID]] = {}
        self.activities_of_bkm: dict[UUID, set[UUID]] = {}
        self._seeking: dict[Bucket, set[UUID]] = {}
        self._open: dict[Bucket, set[UUID]] = {}

    # -- applying events -----------------------------------------------------------------------

    def apply(self, data: IntegrationEvent, version: int, *, decide: bool = True) -> Change:
        """Take one integration event (at its aggregate version) into account.

        With `decide=False` only the facts change (a rebuild decides once, at the end).
        """
        change = Change()
        if isinstance(data, reg.PartnerRegistered):
            self._partner(data, version, change)
        elif isinstance(data, BKM_EVENTS):
            self._bkm(data, version, change, decide)
        elif isinstance(data, DESCRIBING_EVENTS):
            self._activity(data, version, change, decide, self._described)
        elif isinstance(data, CHANNELLING_EVENTS):
            self._activity(data, version, change, decide, self._channelled)
        elif isinstance(data, OPPORTUNITY_EVENTS):
            self._opportunity(data, version, change, decide)
        return change

    def _partner(self, data: reg.PartnerRegistered, version: int, change: Change) -> None:
        old = self.partners.get(data.partner_id)
        if old is not None and old.source_version >= version:
            return
        new = Partner(data.partner_id, version, tuple(data.regions_of_operation))
        self.partners[new.partner_id] = new
        change.facts.append(("partner", new.partner_id, new))
        change.undo_steps.append(lambda: self._restore(self.partners, new.partner_id, old))

    def _bkm(self, data: Any, version: int, change: Change, decide: bool) -> None:
        bkm_id: UUID = data.bkm_id
        old = self.bkms.get(bkm_id)
        if old is not None and old.source_version >= version:
            return
        new = Bkm(bkm_id, version, _BKM_STATUS[type(data)])
        self.bkms[bkm_id] = new
        change.facts.append(("bkm", bkm_id, new))
        change.undo_steps.append(lambda: self._restore(self.bkms, bkm_id, old))
        if decide and (old is None or old.status != new.status):
            for activity_id in sorted(self.activities_of_bkm.get(bkm_id, ())):
                self._reconsider_activity(self.activities[activity_id], change)

    def _activity(
        self,
        data: Any,
        version: int,
        change: Change,
        decide: bool,
        update: Callable[[Activity, Any, int], Activity],
    ) -> None:
        old = self.activities.get(data.activity_id)
        if old is not None and old.source_version >= version:
            return
        base = old or new_activity(data.activity_id, data.plan_id, data.bkm_id)
        new = update(base, data, version)
        self._put_activity(new, old)
        change.facts.append(("activity", new.activity_id, new))
        change.undo_steps.append(lambda: self._put_activity(old, new) if old else self._drop(new))
        if decide:
            self._reconsider_activity(new, change)

    @staticmethod
    def _described(a: Activity, data: plan.PlanActivityAdded, version: int) -> Activity:
        aspect, kind, region = texts(data.aspect, data.kind, data.location_region_code)
        return a.but(
            source_version=version,
            title=data.title,
            aspect=aspect,
            kind=kind,
            region_code=region,
            planned_year=data.planned_year,
            estimated_cost=cents(data.estimated_cost),
            swadaya=cents(data.swadaya_amount),
            poor_households=data.poor_households,
            priority=data.priority,
            described=True,
        )

    @staticmethod
    def _channelled(a: Activity, data: Any, version: int) -> Activity:
        if isinstance(data, plan.PlanActivityRemoved):
            return a.but(source_version=version, described=False)
        if isinstance(data, plan.ActivityChannellingOpened):
            aspect, kind, region = texts(data.aspect, data.kind, data.location_region_code)
            return a.but(
                source_version=version,
                aspect=aspect,
                kind=kind,
                region_code=region,
                planned_year=data.planned_year,
                estimated_cost=cents(data.estimated_cost),
                channelling="seeking_funding",
                outstanding=cents(data.amount_needed),
            )
        if isinstance(data, plan.ActivityChannellingCancelled):
            return a.but(source_version=version, channelling="withdrawn", outstanding=0)
        assert isinstance(data, plan.ActivityFundingUpdated)
        return a.but(
            source_version=version,
            channelling=data.funding_status,
            outstanding=cents(data.outstanding),
        )

    def _opportunity(self, data: Any, version: int, change: Change, decide: bool) -> None:
        old = self.opportunities.get(data.opportunity_id)
        if old is not None and old.source_version >= version:
            return
        new = _opportunity_after(old, data, version)
        if new is None:
            return  # an envelope or lifecycle event of terms never published to us
        self._put_opportunity(new, old)
        change.facts.append(("opportunity", new.opportunity_id, new))
        change.undo_steps.append(
            lambda: self._put_opportunity(old, new) if old else self._drop_opportunity(new)
        )
        if decide:
            self._reconsider_opportunity(new, change)

    # -- deciding pairs ------------------------------------------------------------------------

    def _reconsider_activity(self, a: Activity, change: Change) -> None:
        candidates = set(self.by_activity.get(a.activity_id, ()))
        if a.seeking:
            for bucket in _activity_buckets(a):
                candidates.update(self._open.get(bucket, ()))
        for opportunity_id in sorted(candidates):
            self._decide(a, self.opportunities[opportunity_id], change)

    def _reconsider_opportunity(self, o: Opportunity, change: Change) -> None:
        candidates = set(self.by_opportunity.get(o.opportunity_id, ()))
        if o.status == "open":
            for bucket in o.buckets():
                candidates.update(self._seeking.get(bucket, ()))
        for activity_id in sorted(candidates):
            self._decide(self.activities[activity_id], o, change)

    def _decide(self, a: Activity, o: Opportunity, change: Change) -> None:
        pair = (a.activity_id, o.opportunity_id)
        version = self.versions.get(pair, 0)
        standing = version % 2 == 1
        bkm = self.bkms.get(a.bkm_id)
        if eligible(a, o, bkm) == standing:
            return
        if standing:
            because, explanation = withdrawal_reason(a, o, bkm)
            transition: Transition = Withdrawal(a, o, version + 1, because, explanation)
        else:
            points, reasons = score(a, o, self.partners.get(o.partner_id))
            transition = Proposal(a, o, version + 1, points, reasons)
        self._set_version(pair, version + 1)
        change.transitions.append(transition)
        change.undo_steps.append(lambda: self._set_version(pair, version))

    def _set_version(self, pair: Pair, version: int) -> None:
        activity_id, opportunity_id = pair
        if version:
            self.versions[pair] = version
        else:
            self.versions.pop(pair, None)
        mine = self.by_activity.setdefault(activity_id, set())
        theirs = self.by_opportunity.setdefault(opportunity_id, set())
        if version % 2 == 1:
            mine.add(opportunity_id)
            theirs.add(activity_id)
        else:
            mine.discard(opportunity_id)
            theirs.discard(activity_id)
            if not mine:
                del self.by_activity[activity_id]
            if not theirs:
                del self.by_opportunity[opportunity_id]

    def settle(self) -> None:
        """Decide every pair the facts allow, as if each had been decided live (rebuild)."""
        for a in self.activities.values():
            if a.seeking:
                self._reconsider_activity(a, Change())

    def eligible_pairs(self) -> set[Pair]:
        """Every eligible pair, found through the indexes (what `standing` must equal)."""
        found: set[Pair] = set()
        for a in self.activities.values():
            if not a.seeking:
                continue
            bkm = self.bkms.get(a.bkm_id)
            for bucket in _activity_buckets(a):
                for opportunity_id in self._open.get(bucket, ()):
                    if eligible(a, self.opportunities[opportunity_id], bkm):
                        found.add((a.activity_id, opportunity_id))
        return found

    def standing(self) -> set[Pair]:
        return {pair for pair, version in self.versions.items() if version % 2 == 1}

    # -- loading stored state ------------------------------------------------------------------

    def load(
        self, facts: Iterable[tuple[str, dict[str, Any]]], matches: Iterable[MatchRow]
    ) -> None:
        """Rebuild memory from stored rows (start-up); no decision is taken."""
        for kind, row in facts:
            if kind == "activity":
                self._put_activity(Activity.from_row(row), None)
            elif kind == "opportunity":
                self._put_opportunity(Opportunity.from_row(row), None)
            elif kind == "bkm":
                bkm = Bkm.from_row(row)
                self.bkms[bkm.bkm_id] = bkm
            elif kind == "partner":
                partner = Partner.from_row(row)
                self.partners[partner.partner_id] = partner
        for activity_id, opportunity_id, version in matches:
            self._set_version((activity_id, opportunity_id), version)

    def adopt(self, facts: Iterable[Fact]) -> None:
        """Take facts another reader built (a rebuild reads some topics in parallel)."""
        for fact in facts:
            if isinstance(fact, Activity):
                self._put_activity(fact, self.activities.get(fact.activity_id))
            elif isinstance(fact, Opportunity):
                self._put_opportunity(fact, self.opportunities.get(fact.opportunity_id))
            elif isinstance(fact, Bkm):
                self.bkms[fact.bkm_id] = fact
            else:
                self.partners[fact.partner_id] = fact

    def fact_rows(self) -> Iterator[FactRow]:
        for a in self.activities.values():
            yield "activity", a.activity_id, a
        for o in self.opportunities.values():
            yield "opportunity", o.opportunity_id, o
        for b in self.bkms.values():
            yield "bkm", b.bkm_id, b
        for p in self.partners.values():
            yield "partner", p.partner_id, p

    # -- queries -------------------------------------------------------------------------------

    def opportunities_for(self, activity_id: UUID) -> list[Ranked]:
        """The activity's standing matches, best first."""
        a = self.activities[activity_id]
        ranked = [
            self._ranked(a, self.opportunities[o]) for o in self.by_activity.get(a.activity_id, ())
        ]
        return sorted(ranked, key=lambda r: (-r.score, str(r.opportunity.opportunity_id)))

    def activities_for(self, opportunity_id: UUID) -> list[Ranked]:
        """The opportunity's standing matches, best first (the partner's question)."""
        o = self.opportunities[opportunity_id]
        ranked = [
            self._ranked(self.activities[a], o)
            for a in self.by_opportunity.get(o.opportunity_id, ())
        ]
        return sorted(ranked, key=lambda r: (-r.score, str(r.activity.activity_id)))

    def explain(
        self, activity_id: UUID, opportunity_id: UUID
    ) -> tuple[list[RuleResult], Ranked | None]:
        """Every rule's verdict on the pair, and its score when it is eligible."""
        a = self.activities[activity_id]
        o = self.opportunities[opportunity_id]
        results = evaluate(a, o, self.bkms.get(a.bkm_id))
        ranked = self._ranked(a, o) if all(r.passed for r in results) else None
        return results, ranked

    def _ranked(self, a: Activity, o: Opportunity) -> Ranked:
        points, reasons = score(a, o, self.partners.get(o.partner_id))
        return Ranked(a, o, points, reasons)

    # -- indexes -------------------------------------------------------------------------------

    def _put_activity(self, new: Activity, old: Activity | None) -> None:
        if old is not None and old.seeking:
            for bucket in _activity_buckets(old):
                _discard(self._seeking, bucket, old.activity_id)
        self.activities[new.activity_id] = new
        self.activities_of_bkm.setdefault(new.bkm_id, set()).add(new.activity_id)
        if new.seeking:
            for bucket in _activity_buckets(new):
                self._seeking.setdefault(bucket, set()).add(new.activity_id)

    def _drop(self, a: Activity) -> None:
        self._put_activity(replace(a, described=False), a)
        del self.activities[a.activity_id]
        _discard(self.activities_of_bkm, a.bkm_id, a.activity_id)

    def _put_opportunity(self, new: Opportunity, old: Opportunity | None) -> None:
        if old is not None and old.status == "open":
            for bucket in old.buckets():
                _discard(self._open, bucket, old.opportunity_id)
        self.opportunities[new.opportunity_id] = new
        if new.status == "open":
            for bucket in new.buckets():
                self._open.setdefault(bucket, set()).add(new.opportunity_id)

    def _drop_opportunity(self, o: Opportunity) -> None:
        self._put_opportunity(replace(o, status="cancelled"), o)
        del self.opportunities[o.opportunity_id]

    @staticmethod
    def _restore(facts: dict[UUID, Any], key: UUID, old: Any) -> None:
        if old is None:
            facts.pop(key, None)
        else:
            facts[key] = old


def _activity_buckets(a: Activity) -> list[Bucket]:
    return [(a.aspect, a.kind, p) for p in prefixes(a.region_code)]


def _discard(index: dict[Any, set[UUID]], key: Any, value: UUID) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(value)
        if not members:
            del index[key]


def _opportunity_after(old: Opportunity | None, data: Any, version: int) -> Opportunity | None:
    if isinstance(data, opp.OpportunityPublished | opp.OpportunityRevised):
        return Opportunity(
            opportunity_id=data.opportunity_id,
            partner_id=data.partner_id,
            source_version=version,
            title=data.title,
            partner_name=data.partner_name,
            status="open",
            aspects=tuple(intern(a) for a in data.aspects),
            kinds=tuple(intern(k) for k in data.activity_kinds),
            regions=tuple(intern(r) for r in data.eligible_regions),
            min_amount=cents(data.min_amount),
            max_amount=cents(data.max_amount),
            envelope=cents(data.envelope),
            committed=old.committed if old is not None else 0,
            swadaya_bp=basis_points(data.required_swadaya_percent),
            open_date=data.open_date,
            close_date=data.close_date,
        )
    if old is None:
        return None
    if isinstance(data, opp.OpportunityClosed):
        return replace(old, status="closed", source_version=version)
    if isinstance(data, opp.OpportunityCancelled):
        return replace(old, status="cancelled", source_version=version)
    if isinstance(data, opp.EnvelopeCommitted | opp.EnvelopeReleased):
        return replace(
            old,
            envelope=cents(data.envelope),
            committed=cents(data.committed),
            source_version=version,
        )
    assert isinstance(data, opp.EnvelopeExhausted)
    return replace(
        old, committed=max(0, old.envelope - cents(data.remaining)), source_version=version
    )


def withdrawal_reason(a: Activity, o: Opportunity, bkm: Bkm | None) -> tuple[str, str]:
    """Which fact ended a standing match, named as the contract's `withdrawn_because`."""
    failed = {r.rule: r.explanation for r in why_not(a, o, bkm)}
    if o.status == "cancelled":
        return "opportunity_cancelled", failed["opportunity_open_now"]
    if o.status == "closed":
        return "opportunity_closed", failed["opportunity_open_now"]
    if "activity_seeking_funding" in failed:
        text = failed["activity_seeking_funding"]
        if not a.described or a.channelling in ("withdrawn", "not_opened"):
            return "activity_withdrawn", text
        return "activity_funded", text
    if "bkm_verified_not_suspended" in failed and bkm is not None and bkm.status == "suspended":
        return "bkm_suspended", failed["bkm_verified_not_suspended"]
    if "amount_within_remaining_envelope" in failed:
        return "envelope_exhausted", failed["amount_within_remaining_envelope"]
    return "no_longer_eligible", " ".join(failed.values())[:500]
