"""Planning over HTTP: every command's success, bad input and forbidden callers.

Runs the service as built for production by `build_api` (real Postgres, real Kafka, real
JWT checks), without its Kafka consumers: BKMs reach planning here through the same
tracked effects the consumer uses (the Kafka path is in test_planning_streams.py).
After each refused request the plan is read again to show that nothing changed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from eventsourcing.persistence import Tracking
from fastapi import FastAPI
from salur_contracts import matching, registry
from salur_contracts.base import IntegrationEvent
from salur_contracts.cloudevents import new_envelope
from salur_kit.consumer import EventSourcedEffects
from salur_kit.devtokens import DevIssuer
from salur_kit.testing.callers import Callers
from salur_kit.testing.services import asgi_client, running_api_on_scratch_database
from salur_planning.api import Page, SeekingFundingOut
from salur_planning.application import PlanningApplication
from salur_planning.bootstrap import SPEC

pytestmark = pytest.mark.integration

REGION = "32.73.01.1001"
MINUTES = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


# -- planning built as in production, on real Postgres and Kafka -------------------------------


@pytest.fixture(scope="module")
async def planning(
    postgres_admin_url: str, kafka_bootstrap_servers: str, dev_issuer: DevIssuer
) -> AsyncIterator[FastAPI]:
    async with running_api_on_scratch_database(
        dataclasses.replace(SPEC, consumers=()),
        postgres_admin_url=postgres_admin_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        jwks_path=dev_issuer.jwks_path,
    ) as api:
        yield api


@pytest.fixture
async def http(planning: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(planning, "planning") as client:
        yield client


# -- helpers ---------------------------------------------------------------------------------


def tell(api: FastAPI, data: IntegrationEvent, version: int) -> None:
    """Apply a registry event exactly as the tracked consumer would."""
    app: PlanningApplication = api.state.application
    envelope = new_envelope(data, aggregate_version=version)
    tracking = Tracking(f"planning:{envelope.source}:{envelope.subject}", version)
    EventSourcedEffects(app, app.policy).apply(envelope, tracking)


def known_bkm(api: FastAPI, *, verified: bool = True) -> str:
    bkm_id = uuid.uuid4()
    tell(
        api,
        registry.BkmRegistered(
            bkm_id=bkm_id,
            name="BKM Mekar Sari",
            region_code=REGION,
            address="Jl. Cibeunying 4",
            legal_deed_number="AHU-1",
            founded_on=dt.date(2008, 3, 12),
            status="registered",
        ),
        1,
    )
    if verified:
        tell(api, registry.BkmVerified(bkm_id=bkm_id, region_code=REGION, verified_by="f"), 2)
    return str(bkm_id)


ACTIVITY: dict[str, Any] = {
    "title": "Normalisasi saluran RW 05",
    "description": "Saluran sepanjang 350 m sering meluap",
    "aspect": "environment",
    "kind": "drainage",
    "location": {"region_code": REGION, "rw": "005", "rt": "002"},
    "beneficiaries": {"poor_households": 120, "women": 260, "total_people": 540},
    "estimated_cost": "150000000.00",
    "swadaya": {"amount": "15000000.00"},
    "blm_amount": "20000000.00",
    "planned_year": 2027,
    "priority": 1,
}
ENDORSEMENT = {"meeting_date": "2026-01-10", "attendance": 87, "minutes_sha256": MINUTES}


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    if field is not None:
        fields = [e.get("field") or "" for e in problem.get("errors", [])]
        fields.append(problem.get("field") or "")
        assert any(field in f for f in fields), (field, problem)


async def new_plan(http: httpx.AsyncClient, callers: Callers, bkm_id: str) -> dict[str, Any]:
    response = await http.post(
        "/plans",
        json={"bkm_id": bkm_id, "start_year": 2026, "end_year": 2028},
        headers=callers.operator(bkm_id),
    )
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    return plan


async def with_activity(http: httpx.AsyncClient, callers: Callers, bkm_id: str) -> tuple[str, str]:
    plan = await new_plan(http, callers, bkm_id)
    response = await http.post(
        f"/plans/{plan['plan_id']}/activities", json=ACTIVITY, headers=callers.operator(bkm_id)
    )
    assert response.status_code == 201, response.text
    activity_id = response.headers["location"].rsplit("/", 1)[1]
    return plan["plan_id"], activity_id


async def endorsed(http: httpx.AsyncClient, callers: Callers, bkm_id: str) -> tuple[str, str]:
    plan_id, activity_id = await with_activity(http, callers, bkm_id)
    response = await http.post(f"/plans/{plan_id}/submission", headers=callers.operator(bkm_id))
    assert response.status_code == 200, response.text
    response = await http.post(
        f"/plans/{plan_id}/endorsement", json=ENDORSEMENT, headers=callers.facilitator()
    )
    assert response.status_code == 200, response.text
    return plan_id, activity_id


async def version_of(http: httpx.AsyncClient, callers: Callers, plan_id: str) -> int:
    response = await http.get(f"/plans/{plan_id}", headers=callers.auditor())
    return int(response.json()["version"])


# -- plans -----------------------------------------------------------------------------------


class TestDraftPlan:
    async def test_an_operator_drafts_a_plan_for_their_bkm(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm_id = known_bkm(planning, verified=False)
        response = await http.post(
            "/plans",
            json={"bkm_id": bkm_id, "start_year": 2026, "end_year": 2028},
            headers=callers.operator(bkm_id),
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert response.headers["location"] == f"/plans/{body['plan_id']}"
        assert response.headers["etag"] == '"1"'
        assert (body["status"], body["region_code"], body["plan_version"]) == ("draft", REGION, 1)
        listed = await http.get(f"/plans?bkm_id={bkm_id}", headers=callers.auditor())
        assert listed.json() == [{"plan_id": body["plan_id"], "start_year": 2026, "end_year": 2028}]

    async def test_a_retry_with_the_same_idempotency_key_drafts_one_plan(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm_id = known_bkm(planning)
        headers = callers.operator(bkm_id) | {"Idempotency-Key": str(uuid.uuid4())}
        draft = {"bkm_id": bkm_id, "start_year": 2026, "end_year": 2028}
        first = await http.post("/plans", json=draft, headers=headers)
        again = await http.post("/plans", json=draft, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json()["plan_id"] == again.json()["plan_id"]

    @pytest.mark.parametrize(
        ("years", "field"),
        [((2028, 2026), "end_year"), ((2026, 2031), "end_year"), ((1999, 2001), "start_year")],
    )
    async def test_refuses_a_bad_period(
        self,
        planning: FastAPI,
        http: httpx.AsyncClient,
        callers: Callers,
        years: tuple[int, int],
        field: str,
    ) -> None:
        bkm_id = known_bkm(planning)
        response = await http.post(
            "/plans",
            json={"bkm_id": bkm_id, "start_year": years[0], "end_year": years[1]},
            headers=callers.operator(bkm_id),
        )
        assert_problem(response, 422, field)

    async def test_refuses_a_bkm_registry_never_reported(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        unknown = str(uuid.uuid4())
        response = await http.post(
            "/plans",
            json={"bkm_id": unknown, "start_year": 2026, "end_year": 2028},
            headers=callers.operator(unknown),
        )
        assert_problem(response, 422, "bkm_id")

    @pytest.mark.parametrize("who", ["other_operator", "facilitator", "auditor", "nobody"])
    async def test_refuses_callers_who_may_not_draft_it(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers, who: str
    ) -> None:
        bkm_id = known_bkm(planning)
        headers = {
            "other_operator": callers.operator(uuid.uuid4()),
            "facilitator": callers.facilitator(),
            "auditor": callers.auditor(),
            "nobody": {},
        }[who]
        response = await http.post(
            "/plans", json={"bkm_id": bkm_id, "start_year": 2026, "end_year": 2028}, headers=headers
        )
        assert_problem(response, 401 if who == "nobody" else 403)


class TestActivities:
    async def test_an_operator_adds_revises_and_removes_activities(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm_id = known_bkm(planning)
        plan_id, activity_id = await with_activity(http, callers, bkm_id)
        me = callers.operator(bkm_id)
        revised = ACTIVITY | {"swadaya": {"percent": "12.5"}, "estimated_cost": "160000000.00"}
        response = await http.put(
            f"/plans/{plan_id}/activities/{activity_id}",
            json=revised,
            headers=me | {"If-Match": '"2"'},
        )
        assert response.status_code == 200, response.text
        assert response.json()["activities"][0]["swadaya"]["amount"] == "20000000.00"
        response = await http.delete(f"/plans/{plan_id}/activities/{activity_id}", headers=me)
        assert response.status_code == 200, response.text
        assert response.json()["activities"] == []

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"planned_year": 2030}, "planned_year"),
            ({"estimated_cost": "-5.00"}, "estimated_cost"),
            ({"estimated_cost": 150000000.0}, "estimated_cost"),
            ({"blm_amount": "-1.00"}, "blm_amount"),
            ({"swadaya": {"amount": "150000000.01"}}, "swadaya"),
            ({"swadaya": {"percent": "120"}}, "swadaya"),
            ({"swadaya": {"amount": "1.00", "percent": "1"}}, "swadaya"),
            ({"location": {"region_code": "32.73.1.1001"}}, "region_code"),
            ({"location": {"region_code": "3273011001"}}, "region_code"),
            ({"aspect": "spiritual"}, "aspect"),
            ({"beneficiaries": {"women": 10, "total_people": 5}}, "beneficiaries"),
            ({"priority": 0}, "priority"),
        ],
    )
    async def test_refuses_bad_input_naming_the_field_and_changes_nothing(
        self,
        planning: FastAPI,
        http: httpx.AsyncClient,
        callers: Callers,
        change: dict[str, Any],
        field: str,
    ) -> None:
        bkm_id = known_bkm(planning)
        plan = await new_plan(http, callers, bkm_id)
        response = await http.post(
            f"/plans/{plan['plan_id']}/activities",
            json=ACTIVITY | change,
            headers=callers.operator(bkm_id),
        )
        assert_problem(response, 422, field)
        assert await version_of(http, callers, plan["plan_id"]) == 1

    @pytest.mark.parametrize("stage", ["submitted", "endorsed"])
    async def test_refuses_editing_a_submitted_or_endorsed_plan(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers, stage: str
    ) -> None:
        bkm_id = known_bkm(planning)
        if stage == "endorsed":
            plan_id, activity_id = await endorsed(http, callers, bkm_id)
        else:
            plan_id, activity_id = await with_activity(http, callers, bkm_id)
            await http.post(f"/plans/{plan_id}/submission", headers=callers.operator(bkm_id))
        before = await version_of(http, callers, plan_id)
        me = callers.operator(bkm_id)
        edits = [
            http.put(f"/plans/{plan_id}/activities/{activity_id}", json=ACTIVITY, headers=me),
            http.post(f"/plans/{plan_id}/activities", json=ACTIVITY, headers=me),
            http.delete(f"/plans/{plan_id}/activities/{activity_id}", headers=me),
            http.post(f"/plans/{plan_id}/submission", headers=me),
        ]
        for edit in edits:
            assert_problem(await edit, 422, "status")
        assert await version_of(http, callers, plan_id) == before

    async def test_refuses_a_stale_if_match(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm_id = known_bkm(planning)
        plan_id, _ = await with_activity(http, callers, bkm_id)
        response = await http.post(
            f"/plans/{plan_id}/activities",
            json=ACTIVITY,
            headers=callers.operator(bkm_id) | {"If-Match": '"1"'},
        )
        assert_problem(response, 409)
        assert await version_of(http, callers, plan_id) == 2

    @pytest.mark.parametrize("who", ["other_operator", "facilitator", "auditor"])
    async def test_refuses_someone_elses_plan(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers, who: str
    ) -> None:
        bkm_id = known_bkm(planning)
        plan = await new_plan(http, callers, bkm_id)
        headers = {
            "other_operator": callers.operator(uuid.uuid4()),
            "facilitator": callers.facilitator(),
            "auditor": callers.auditor(),
        }[who]
        response = await http.post(
            f"/plans/{plan['plan_id']}/activities", json=ACTIVITY, headers=headers
        )
        assert_problem(response, 403)
        assert await version_of(http, callers, plan["plan_id"]) == 1


class TestEndorsementAndVersions:
    async def test_a_facilitator_of_the_region_endorses_and_a_revision_keeps_version_one(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm_id = known_bkm(planning)
        plan_id, activity_id = await endorsed(http, callers, bkm_id)
        me = callers.operator(bkm_id)
        response = await http.post(f"/plans/{plan_id}/revisions", headers=me)
        assert response.status_code == 200, response.text
        assert (response.json()["plan_version"], response.json()["status"]) == (2, "draft")
        await http.put(
            f"/plans/{plan_id}/activities/{activity_id}",
            json=ACTIVITY | {"title": "Saluran RW 05 dan 06"},
            headers=me,
        )
        first = (await http.get(f"/plans/{plan_id}?version=1", headers=callers.auditor())).json()
        assert first["status"] == "superseded"
        assert first["endorsement"]["minutes_sha256"] == MINUTES
        assert first["activities"][0]["title"] == ACTIVITY["title"]
        latest = (await http.get(f"/plans/{plan_id}", headers=callers.auditor())).json()
        assert latest["activities"][0]["title"] == "Saluran RW 05 dan 06"
        missing = await http.get(f"/plans/{plan_id}?version=3", headers=callers.auditor())
        assert_problem(missing, 404)

    @pytest.mark.parametrize("who", ["other_region", "operator", "auditor"])
    async def test_refuses_an_endorsement_by_anyone_else(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers, who: str
    ) -> None:
        bkm_id = known_bkm(planning)
        plan_id, _ = await with_activity(http, callers, bkm_id)
        await http.post(f"/plans/{plan_id}/submission", headers=callers.operator(bkm_id))
        headers = {
            "other_region": callers.facilitator("31.71"),
            "operator": callers.operator(bkm_id),
            "auditor": callers.auditor(),
        }[who]
        response = await http.post(
            f"/plans/{plan_id}/endorsement", json=ENDORSEMENT, headers=headers
        )
        assert_problem(response, 403)
        assert await version_of(http, callers, plan_id) == 3

    async def test_refuses_a_malformed_minutes_hash(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm_id = known_bkm(planning)
        plan_id, _ = await with_activity(http, callers, bkm_id)
        await http.post(f"/plans/{plan_id}/submission", headers=callers.operator(bkm_id))
        response = await http.post(
            f"/plans/{plan_id}/endorsement",
            json=ENDORSEMENT | {"minutes_sha256": "not-a-hash"},
            headers=callers.facilitator(),
        )
        assert_problem(response, 422, "minutes_sha256")


class TestChannelling:
    async def test_an_opened_activity_is_listed_as_seeking_funding_until_withdrawn(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm_id = known_bkm(planning)
        plan_id, activity_id = await endorsed(http, callers, bkm_id)
        me = callers.operator(bkm_id)
        url = f"/plans/{plan_id}/activities/{activity_id}/channelling"
        response = await http.post(url, json={"amount_needed": "115000000.00"}, headers=me)
        assert response.status_code == 200, response.text
        channelling = response.json()["activities"][0]["channelling"]
        assert channelling["funding_status"] == "seeking_funding"
        assert channelling["outstanding"] == "115000000.00"

        query = (
            "/activities/seeking-funding?region=32.73&aspect=environment&kind=drainage"
            "&min_amount=100000000.00&max_amount=120000000.00&limit=500"
        )
        assert await _listed(http, callers, query, activity_id)
        assert not await _listed(
            http,
            callers,
            query.replace("min_amount=100000000.00", "min_amount=116000000.00"),
            activity_id,
            wait=False,
        )

        totals = (await http.get(f"/plans/{plan_id}/totals", headers=callers.auditor())).json()
        assert totals["by_aspect"]["environment"]["estimated_cost"] == "150000000.00"
        assert (totals["swadaya"], totals["blm"], totals["unfunded"]) == (
            "15000000.00",
            "20000000.00",
            "115000000.00",
        )

        response = await http.delete(url, headers=me)
        assert response.status_code == 200, response.text
        for _ in range(100):
            if not await _listed(http, callers, query, activity_id, wait=False):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("a withdrawn activity is still listed as seeking funding")

    async def test_an_activity_with_a_proposed_match_shows_and_lists_as_matched(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm_id = known_bkm(planning)
        plan_id, activity_id = await endorsed(http, callers, bkm_id)
        me = callers.operator(bkm_id)
        url = f"/plans/{plan_id}/activities/{activity_id}/channelling"
        response = await http.post(url, json={"amount_needed": "115000000.00"}, headers=me)
        assert response.status_code == 200, response.text
        matched = "/activities/seeking-funding?region=32.73.01&status=matched&limit=500"
        seeking = matched.replace("status=matched", "status=seeking_funding")
        assert await _listed(http, callers, seeking, activity_id)

        # Matching proposes an opportunity (as its event reaches the tracked consumer).
        opportunity_id = uuid.uuid4()
        match = matching.MatchProposed(
            match_id=matching.match_id(uuid.UUID(activity_id), opportunity_id),
            activity_id=uuid.UUID(activity_id),
            plan_id=uuid.UUID(plan_id),
            bkm_id=uuid.UUID(bkm_id),
            opportunity_id=opportunity_id,
            partner_id=uuid.uuid4(),
            aspect="environment",
            region_code=REGION,
            amount_needed=Decimal("115000000.00"),
            currency="IDR",
            score=7350,
            rules_passed=["aspect_accepted"],
            reasons=[matching.ScoreReason(criterion="fit", points=7350, explanation="Fits.")],
        )
        tell(planning, match, 1)
        shown = (await http.get(f"/plans/{plan_id}", headers=callers.auditor())).json()
        channelling = shown["activities"][0]["channelling"]
        assert (channelling["funding_status"], channelling["outstanding"]) == (
            "matched",
            "115000000.00",
        )
        assert await _listed(http, callers, matched, activity_id)
        assert not await _listed(http, callers, seeking, activity_id, wait=False)

        # Matching withdraws it: the activity seeks funding again, and may be withdrawn.
        tell(
            planning,
            matching.MatchWithdrawn(
                **match.model_dump(
                    include={
                        "match_id",
                        "activity_id",
                        "plan_id",
                        "bkm_id",
                        "opportunity_id",
                        "partner_id",
                    }
                ),
                withdrawn_because="opportunity_closed",
                explanation="The opportunity closed.",
            ),
            2,
        )
        shown = (await http.get(f"/plans/{plan_id}", headers=callers.auditor())).json()
        assert shown["activities"][0]["channelling"]["funding_status"] == "seeking_funding"
        assert await _listed(http, callers, seeking, activity_id)

    async def test_listed_items_have_exactly_the_documented_fields_and_money_as_text(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm_id = known_bkm(planning)
        plan_id, activity_id = await endorsed(http, callers, bkm_id)
        url = f"/plans/{plan_id}/activities/{activity_id}/channelling"
        body = {"amount_needed": "115000000.00"}
        opened = await http.post(url, json=body, headers=callers.operator(bkm_id))
        assert opened.status_code == 200, opened.text
        query = f"/activities/seeking-funding?region={REGION}&limit=500"
        assert await _listed(http, callers, query, activity_id)
        page = (await http.get(query, headers=callers.auditor())).json()
        assert uuid.UUID(activity_id) in {i.activity_id for i in Page.model_validate(page).items}
        (item,) = [i for i in page["items"] if i["activity_id"] == activity_id]
        assert set(item) == set(SeekingFundingOut.model_fields)
        assert (item["estimated_cost"], item["committed"], item["outstanding"]) == (
            "150000000.00",
            "0.00",
            "115000000.00",
        )
        assert (item["plan_id"], item["bkm_id"], item["funding_status"]) == (
            plan_id,
            bkm_id,
            "seeking_funding",
        )

    async def test_an_activity_is_listed_under_every_prefix_of_its_code_and_no_other(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm_id = known_bkm(planning)
        plan_id, activity_id = await endorsed(http, callers, bkm_id)
        url = f"/plans/{plan_id}/activities/{activity_id}/channelling"
        body = {"amount_needed": "115000000.00"}
        opened = await http.post(url, json=body, headers=callers.operator(bkm_id))
        assert opened.status_code == 200, opened.text
        listing = "/activities/seeking-funding?limit=500&region="
        assert await _listed(http, callers, listing + REGION, activity_id)
        for prefix in ("32", "32.73", "32.73.01"):
            assert await _listed(http, callers, listing + prefix, activity_id, wait=False)
        for other in ("31", "32.71", "32.73.02", "32.73.01.1002"):
            assert not await _listed(http, callers, listing + other, activity_id, wait=False)

    async def test_refuses_a_status_filter_that_has_nothing_outstanding(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        response = await http.get(
            "/activities/seeking-funding?status=funded", headers=callers.auditor()
        )
        assert_problem(response, 422, "status")

    async def test_refuses_an_amount_above_what_remains(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm_id = known_bkm(planning)
        plan_id, activity_id = await endorsed(http, callers, bkm_id)
        response = await http.post(
            f"/plans/{plan_id}/activities/{activity_id}/channelling",
            json={"amount_needed": "115000000.01"},
            headers=callers.operator(bkm_id),
        )
        assert_problem(response, 422, "amount_needed")
        assert await version_of(http, callers, plan_id) == 4

    async def test_refuses_an_activity_of_an_unendorsed_plan(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm_id = known_bkm(planning)
        plan_id, activity_id = await with_activity(http, callers, bkm_id)
        response = await http.post(
            f"/plans/{plan_id}/activities/{activity_id}/channelling",
            json={"amount_needed": "1.00"},
            headers=callers.operator(bkm_id),
        )
        assert_problem(response, 422, "status")

    async def test_refuses_an_activity_of_an_unverified_bkm(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm_id = known_bkm(planning, verified=False)
        plan_id, activity_id = await endorsed(http, callers, bkm_id)
        response = await http.post(
            f"/plans/{plan_id}/activities/{activity_id}/channelling",
            json={"amount_needed": "1.00"},
            headers=callers.operator(bkm_id),
        )
        assert_problem(response, 422, "bkm_id")
        assert await version_of(http, callers, plan_id) == 4

    @pytest.mark.parametrize("amount", ["-1.00", 1000.0, "0.00"])
    async def test_refuses_a_bad_amount(
        self, planning: FastAPI, http: httpx.AsyncClient, callers: Callers, amount: Any
    ) -> None:
        bkm_id = known_bkm(planning)
        plan_id, activity_id = await endorsed(http, callers, bkm_id)
        response = await http.post(
            f"/plans/{plan_id}/activities/{activity_id}/channelling",
            json={"amount_needed": amount},
            headers=callers.operator(bkm_id),
        )
        assert_problem(response, 422, "amount_needed")

    async def test_refuses_a_malformed_region_filter(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        response = await http.get(
            "/activities/seeking-funding?region=32.7", headers=callers.auditor()
        )
        assert_problem(response, 422, "region")


async def _listed(
    http: httpx.AsyncClient, callers: Callers, query: str, activity_id: str, wait: bool = True
) -> bool:
    """Whether the (eventually consistent) list shows the activity; waits for it if asked."""
    for _ in range(100 if wait else 1):
        response = await http.get(query, headers=callers.auditor())
        assert response.status_code == 200, response.text
        if any(item["activity_id"] == activity_id for item in response.json()["items"]):
            return True
        if wait:
            await asyncio.sleep(0.05)
    return False
