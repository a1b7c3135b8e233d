"""The commands of the whole-platform bench: who sends them, to which service, with what body.

The cast (a partner known to opportunities, BKMs known to planning with a draft plan each)
is set up through the public APIs with the demo's `Api`, which retries a command until the
service has heard over Kafka of what it names.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from salur_kit.auth import Role
from salur_kit.demo.api import Actor, Api
from salur_kit.demo.waiting import Waiter
from salur_kit.devtokens import DevIssuer

from benchmarks.load import BkmCommands

CITY = "32.73"
KELURAHAN = "32.73.01.1001"
SETUP_WAIT_SECONDS = 180.0
Command = tuple[str, dict[str, Any], dict[str, str]]


class Commands:
    """An endless supply of distinct, valid commands for one service: (path, body, headers)."""

    service: str

    def next(self) -> Command:
        raise NotImplementedError


class BkmRegistrations(Commands):
    """Registry: a facilitator registers a new BKM in the city, with an id chosen here so
    its effect can be looked for before the answer arrives."""

    service = "registry"

    def __init__(self, facilitator_token: str, label: str) -> None:
        self._bkms = BkmCommands(facilitator_token, label)

    def next(self) -> Command:
        body, headers = self._bkms.next()
        return "/bkms", {"bkm_id": str(uuid.uuid4()), **body}, headers


class ActivityAdditions(Commands):
    """Planning: a BKM operator adds the next activity to their own draft plan (one plan per
    sender, so no two senders race for one aggregate's version)."""

    service = "planning"

    def __init__(self, operator_token: str, plan_id: UUID, year: int) -> None:
        self.path = f"/plans/{plan_id}/activities"
        self.headers = {"Authorization": f"Bearer {operator_token}"}
        self.year = year
        self.counter = itertools.count()

    def next(self) -> Command:
        i = next(self.counter)
        body = {
            "title": f"Saluran drainase RW {i % 20 + 1:03d} ({i})",
            "aspect": "environment",
            "kind": "drainage",
            "location": {"region_code": KELURAHAN, "rw": f"{i % 20 + 1:03d}"},
            "beneficiaries": {"poor_households": 40, "women": 20, "total_people": 160},
            "estimated_cost": "150000000.00",
            "swadaya": {"amount": "15000000.00"},
            "blm_amount": "0.00",
            "planned_year": self.year,
            "priority": i % 10_000 + 1,
        }
        return self.path, body, {**self.headers, "Idempotency-Key": str(uuid.uuid4())}


class OpportunityDrafts(Commands):
    """Opportunities: a partner's officer drafts a funding opportunity."""

    service = "opportunities"

    def __init__(self, officer_token: str, partner_id: UUID, day: dt.date) -> None:
        self.headers = {"Authorization": f"Bearer {officer_token}"}
        self.partner_id = partner_id
        self.day = day
        self.counter = itertools.count()

    def next(self) -> Command:
        i = next(self.counter)
        body = {
            "partner_id": str(self.partner_id),
            "title": f"Dana infrastruktur permukiman {i}",
            "description": f"Bench opportunity {i}, tahun anggaran {self.day.year}",
            "source_kind": "apbd",
            "budget_code": "1.03.03.2.01",
            "aspects": ["environment"],
            "activity_kinds": ["drainage", "roads"],
            "eligible_regions": [CITY],
            "min_amount": "25000000.00",
            "max_amount": "150000000.00",
            "envelope": "500000000.00",
            "required_swadaya_percent": "10",
            "open_date": (self.day - dt.timedelta(days=7)).isoformat(),
            "close_date": (self.day + dt.timedelta(days=90)).isoformat(),
            "requirements": "proposal, RAB, and the endorsed PJM Pronangkis",
        }
        return "/opportunities", body, {**self.headers, "Idempotency-Key": str(uuid.uuid4())}


@dataclass(frozen=True)
class Cast:
    facilitator_token: str
    partner_id: UUID
    officer_token: str
    plans: list[tuple[str, UUID]]  # (operator token, draft plan id), one per planning sender
    year: int


def set_up(
    urls: Mapping[str, str], issuer: DevIssuer, plans: int, run_id: str, day: dt.date
) -> Cast:
    """A partner known to opportunities and `plans` BKMs known to planning, each with a draft
    plan, created through the services' APIs (blocking: run it in a thread)."""
    facilitator = Actor.minted(issuer, "bench facilitator", Role.facilitator, region=CITY)
    api = Api(urls, Waiter(timeout_seconds=SETUP_WAIT_SECONDS))
    try:
        partner_id = uuid.uuid4()
        officer = Actor.minted(issuer, "bench officer", Role.partner_officer, org=partner_id)
        api.command(
            officer,
            "POST",
            "registry",
            "/partners",
            {
                "partner_id": str(partner_id),
                "kind": "local_government_office",
                "name": f"Dinas Bench {run_id}",
                "contact_name": "Ir. Bench",
                "contact_email": "bench@bandung.go.id",
                "contact_phone": "+62 22 4201234",
                "regions_of_operation": [CITY],
            },
        )
        # The first draft waits until opportunities has heard of the partner.
        path, body, _ = OpportunityDrafts(officer.token, partner_id, day).next()
        api.command(
            officer, "POST", "opportunities", path, body, until_known={"partner-registered"}
        )
        drafted: list[tuple[str, UUID]] = []
        for i in range(plans):
            bkm_id = uuid.uuid4()
            operator = Actor.minted(issuer, f"operator {i}", Role.bkm_operator, org=bkm_id)
            _, bkm, _ = BkmRegistrations(facilitator.token, f"{run_id} cast").next()
            api.command(facilitator, "POST", "registry", "/bkms", {**bkm, "bkm_id": str(bkm_id)})
            plan = api.command(
                operator,
                "POST",
                "planning",
                "/plans",
                {"bkm_id": str(bkm_id), "start_year": day.year, "end_year": day.year + 2},
                until_known={"bkm-registered"},
            )
            drafted.append((operator.token, UUID(plan["plan_id"])))
        return Cast(facilitator.token, partner_id, officer.token, drafted, day.year)
    finally:
        api.close()


def mix(cast: Cast, per_service: int, run_id: str, day: dt.date) -> list[Commands]:
    """One command source per closed-loop sender: `per_service` each for registry, planning
    and opportunities."""
    senders: list[Commands] = []
    for i in range(per_service):
        senders.append(BkmRegistrations(cast.facilitator_token, f"{run_id} mix {i}"))
        token, plan_id = cast.plans[i]
        senders.append(ActivityAdditions(token, plan_id, cast.year))
        senders.append(OpportunityDrafts(cast.officer_token, cast.partner_id, day))
    return senders
