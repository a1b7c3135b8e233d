"""Opportunities over HTTP: every command's success, each bad input and each forbidden caller.

Runs the service as built for production by `build_api` (real Postgres, real Kafka, real
JWT checks), without its Kafka consumers or its scheduled close: partners and agreements
reach it here through the same tracked effects the consumer uses (the Kafka path is in
test_opportunities_streams.py). After each refused request the opportunity is read again
to show that nothing changed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from eventsourcing.persistence import Tracking
from fastapi import FastAPI
from salur_contracts import partnerships, registry
from salur_contracts.base import IntegrationEvent
from salur_contracts.cloudevents import new_envelope
from salur_kit.consumer import EventSourcedEffects
from salur_kit.devtokens import DevIssuer
from salur_kit.testing.callers import Callers
from salur_kit.testing.services import asgi_client, running_api_on_scratch_database
from salur_opportunities.api import Page
from salur_opportunities.application import OpportunitiesApplication
from salur_opportunities.bootstrap import SPEC

pytestmark = pytest.mark.integration

TERMS: dict[str, Any] = {
    "title": "Program CSR Air Bersih 2027",
    "description": "Sarana air bersih di kelurahan padat",
    "source_kind": "csr",
    "aspects": ["environment"],
    "activity_kinds": ["clean_water", "sanitation"],
    "eligible_regions": ["32.73"],
    "min_amount": "25000000.00",
    "max_amount": "150000000.00",
    "envelope": "300000000.00",
    "required_swadaya_percent": "10",
    "open_date": "2027-01-01",
    "close_date": "2027-06-30",
    "requirements": "Proposal, RAB, berita acara rembug warga",
}


@pytest.fixture(scope="module")
async def service(
    postgres_admin_url: str, kafka_bootstrap_servers: str, dev_issuer: DevIssuer
) -> AsyncIterator[FastAPI]:
    async with running_api_on_scratch_database(
        dataclasses.replace(SPEC, consumers=(), loops=()),
        postgres_admin_url=postgres_admin_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        jwks_path=dev_issuer.jwks_path,
    ) as api:
        yield api


@pytest.fixture
async def http(service: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(service, "opportunities") as client:
        yield client


# -- helpers ---------------------------------------------------------------------------------


def tell(api: FastAPI, data: IntegrationEvent, version: int = 1) -> None:
    """Apply another service's event exactly as the tracked consumer would."""
    app: OpportunitiesApplication = api.state.application
    envelope = new_envelope(data, aggregate_version=version)
    tracking = Tracking(f"opportunities:{envelope.source}:{envelope.subject}", version)
    EventSourcedEffects(app, app.policy).apply(envelope, tracking)


def stored_events(api: FastAPI) -> int:
    """How many events the service has stored (this module's service runs nothing else)."""
    app: OpportunitiesApplication = api.state.application
    return app.recorder.max_notification_id() or 0


def known_partner(api: FastAPI, *, verified: bool = True) -> str:
    partner_id = uuid.uuid4()
    tell(
        api,
        registry.PartnerRegistered(
            partner_id=partner_id,
            kind="company_csr",
            name="PT Sinar Nusantara Tbk",
            contact_name="Budi",
            contact_email="csr@sinar.co.id",
            contact_phone="+62 22 4201234",
            regions_of_operation=["32.73"],
        ),
    )
    if verified:
        tell(api, registry.PartnerVerified(partner_id=partner_id, verified_by="f"), 2)
    return str(partner_id)


def sign(api: FastAPI, partner_id: str, oid: str, amount: str) -> uuid.UUID:
    """Partnerships reports an agreement signed against the opportunity."""
    agreement = uuid.uuid4()
    tell(
        api,
        partnerships.AgreementSigned(
            agreement_id=agreement,
            proposal_id=uuid.uuid4(),
            plan_id=uuid.uuid4(),
            activity_id=uuid.uuid4(),
            bkm_id=uuid.uuid4(),
            partner_id=uuid.UUID(partner_id),
            partner_name="PT Sinar Nusantara Tbk",
            opportunity_id=uuid.UUID(oid),
            amount=Decimal(amount),
            currency="IDR",
        ),
    )
    return agreement


def assert_problem(
    response: httpx.Response, status: int, field: str | None = None, rule: str | None = None
) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    errors = problem.get("errors", [])
    if field is not None:
        assert any(field in (e.get("field") or "") for e in errors), (field, problem)
    if rule is not None:
        assert any(e.get("rule") == rule for e in errors), (rule, problem)


async def drafted(
    http: httpx.AsyncClient, callers: Callers, partner_id: str, **changes: Any
) -> dict[str, Any]:
    response = await http.post(
        "/opportunities",
        json=TERMS | changes | {"partner_id": partner_id},
        headers=callers.officer(partner_id),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def published(
    http: httpx.AsyncClient, callers: Callers, partner_id: str, **changes: Any
) -> dict[str, Any]:
    draft = await drafted(http, callers, partner_id, **changes)
    response = await http.post(
        f"/opportunities/{draft['opportunity_id']}/publication",
        headers=callers.officer(partner_id),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def shown(http: httpx.AsyncClient, callers: Callers, partner_id: str, oid: str) -> Any:
    response = await http.get(f"/opportunities/{oid}", headers=callers.officer(partner_id))
    assert response.status_code == 200, response.text
    return response.json()


async def listed(http: httpx.AsyncClient, query: str, wanted: str, present: bool) -> list[str]:
    """Ids listed by the open-opportunities query once the projection caught up with
    `wanted` (present or absent)."""
    ids: list[str] = []
    for _ in range(100):
        response = await http.get(f"/opportunities?{query}&limit=500")
        assert response.status_code == 200, response.text
        Page.model_validate(response.json())  # the documented shape, rendered by Postgres
        ids = [item["opportunity_id"] for item in response.json()["items"]]
        if (wanted in ids) == present:
            return ids
        await asyncio.sleep(0.05)
    pytest.fail(f"{wanted} {'never listed' if present else 'still listed'} for {query}")


# -- drafting and publishing -----------------------------------------------------------------


class TestDraftAndPublish:
    async def test_an_officer_drafts_and_publishes_for_their_partner(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service)
        response = await http.post(
            "/opportunities",
            json=TERMS | {"partner_id": partner_id, "aspects": ["environment", "environment"]},
            headers=callers.officer(partner_id),
        )
        assert response.status_code == 201, response.text
        draft = response.json()
        oid = draft["opportunity_id"]
        assert response.headers["location"] == f"/opportunities/{oid}"
        assert response.headers["etag"] == '"1"'
        assert (draft["status"], draft["revision"], draft["terms"]["aspects"]) == (
            "draft",
            0,
            ["environment"],
        )
        opened = await http.post(
            f"/opportunities/{oid}/publication",
            headers=callers.officer(partner_id) | {"If-Match": '"1"'},
        )
        assert opened.status_code == 200, opened.text
        body = opened.json()
        assert (body["status"], body["revision"], body["partner_name"]) == (
            "open",
            1,
            "PT Sinar Nusantara Tbk",
        )
        assert body["terms"]["envelope"] == "300000000.00"
        assert body["remaining"] == "300000000.00"

    async def test_a_retry_with_the_same_idempotency_key_drafts_one_opportunity(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service)
        headers = callers.officer(partner_id) | {"Idempotency-Key": str(uuid.uuid4())}
        body = TERMS | {"partner_id": partner_id}
        first = await http.post("/opportunities", json=body, headers=headers)
        again = await http.post("/opportunities", json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json()["opportunity_id"] == again.json()["opportunity_id"]

    async def test_a_draft_is_hidden_from_everyone_but_its_officers(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service)
        oid = (await drafted(http, callers, partner_id))["opportunity_id"]
        for headers in ({}, callers.auditor(), callers.officer(uuid.uuid4())):
            assert_problem(await http.get(f"/opportunities/{oid}", headers=headers), 404)
        assert (await shown(http, callers, partner_id, oid))["status"] == "draft"

    async def test_refuses_to_publish_for_an_unverified_partner(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service, verified=False)
        oid = (await drafted(http, callers, partner_id))["opportunity_id"]
        response = await http.post(
            f"/opportunities/{oid}/publication", headers=callers.officer(partner_id)
        )
        assert_problem(response, 422, "partner_id", "partner-verified")
        after = await shown(http, callers, partner_id, oid)
        assert (after["status"], after["version"]) == ("draft", 1)

    async def test_refuses_a_partner_registry_never_reported(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        stranger = str(uuid.uuid4())
        response = await http.post(
            "/opportunities",
            json=TERMS | {"partner_id": stranger},
            headers=callers.officer(stranger),
        )
        assert_problem(response, 422, "partner_id", "partner-registered")

    @pytest.mark.parametrize("who", ["other_officer", "operator", "auditor", "nobody"])
    async def test_refuses_callers_who_may_not_draft_for_the_partner(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers, who: str
    ) -> None:
        partner_id = known_partner(service)
        headers = {
            "other_officer": callers.officer(uuid.uuid4()),
            "operator": callers.operator(uuid.uuid4()),
            "auditor": callers.auditor(),
            "nobody": {},
        }[who]
        response = await http.post(
            "/opportunities", json=TERMS | {"partner_id": partner_id}, headers=headers
        )
        assert_problem(response, 401 if who == "nobody" else 403)


# -- bad input -------------------------------------------------------------------------------

BAD_TERMS = [
    pytest.param({"close_date": "2026-12-31"}, "close_date", "close-not-before-open", id="close"),
    pytest.param({"min_amount": "200000000.00"}, "min_amount", "min-not-above-max", id="min>max"),
    pytest.param(
        {"max_amount": "400000000.00"}, "max_amount", "max-within-envelope", id="max>envelope"
    ),
    pytest.param({"eligible_regions": ["32.7"]}, "eligible_regions", None, id="prefix"),
    pytest.param({"eligible_regions": ["32.73.01.10011"]}, "eligible_regions", None, id="long"),
    pytest.param({"aspects": ["spiritual"]}, "aspects", None, id="aspect"),
    pytest.param({"activity_kinds": ["fireworks"]}, "activity_kinds", None, id="kind"),
    pytest.param({"min_amount": 25000000.0}, "min_amount", None, id="float-money"),
    pytest.param({"envelope": "-1.00"}, "envelope", None, id="negative-money"),
    pytest.param({"required_swadaya_percent": "150"}, "required_swadaya_percent", None, id="pct"),
    pytest.param({"source_kind": "apbd"}, "budget_code", "budget-code-for-apbd", id="apbd"),
    pytest.param({"bonus": "yes"}, "bonus", "extra_forbidden", id="unknown-field"),
    pytest.param({"aspects": []}, "aspects", None, id="no-aspect"),
]


class TestBadInput:
    @pytest.mark.parametrize(("changes", "field", "rule"), BAD_TERMS)
    async def test_refuses_a_draft_with_bad_terms(
        self,
        service: FastAPI,
        http: httpx.AsyncClient,
        callers: Callers,
        changes: dict[str, Any],
        field: str,
        rule: str | None,
    ) -> None:
        partner_id = known_partner(service)
        before = stored_events(service)
        response = await http.post(
            "/opportunities",
            json=TERMS | changes | {"partner_id": partner_id},
            headers=callers.officer(partner_id),
        )
        assert_problem(response, 422, field, rule)
        assert stored_events(service) == before, "nothing was stored"

    @pytest.mark.parametrize(("changes", "field", "rule"), BAD_TERMS)
    async def test_refuses_a_revision_with_bad_terms_and_keeps_the_last_one(
        self,
        service: FastAPI,
        http: httpx.AsyncClient,
        callers: Callers,
        changes: dict[str, Any],
        field: str,
        rule: str | None,
    ) -> None:
        partner_id = known_partner(service)
        opened = await published(http, callers, partner_id)
        oid = opened["opportunity_id"]
        response = await http.put(
            f"/opportunities/{oid}/terms", json=TERMS | changes, headers=callers.officer(partner_id)
        )
        assert_problem(response, 422, field, rule)
        after = await shown(http, callers, partner_id, oid)
        assert (after["version"], after["revision"], after["terms"]) == (
            opened["version"],
            1,
            opened["terms"],
        )

    async def test_refuses_malformed_json_and_oversize_bodies(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service)
        headers = callers.officer(partner_id) | {"content-type": "application/json"}
        malformed = await http.post("/opportunities", content=b'{"title": ', headers=headers)
        assert_problem(malformed, 400, "body", "json_invalid")
        huge = TERMS | {"partner_id": partner_id, "description": "x" * 70_000}
        assert_problem(await http.post("/opportunities", json=huge, headers=headers), 413)

    async def test_refuses_editing_someone_elses_opportunity(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service)
        opened = await published(http, callers, partner_id)
        oid = opened["opportunity_id"]
        stranger = callers.officer(known_partner(service))
        for response in (
            await http.put(f"/opportunities/{oid}/terms", json=TERMS, headers=stranger),
            await http.post(f"/opportunities/{oid}/closure", headers=stranger),
            await http.post(
                f"/opportunities/{oid}/cancellation", json={"reason": "x"}, headers=stranger
            ),
        ):
            assert_problem(response, 403, rule="own-organisation")
        assert (await shown(http, callers, partner_id, oid))["version"] == opened["version"]

    async def test_refuses_a_change_against_a_stale_version(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service)
        opened = await published(http, callers, partner_id)
        oid = opened["opportunity_id"]
        stale = {"If-Match": f'"{opened["version"] - 1}"'}
        response = await http.put(
            f"/opportunities/{oid}/terms",
            json=TERMS | {"title": "Judul baru"},
            headers=callers.officer(partner_id) | stale,
        )
        assert_problem(response, 409, "If-Match", "optimistic-concurrency")
        after = await shown(http, callers, partner_id, oid)
        assert (after["version"], after["terms"]["title"]) == (opened["version"], TERMS["title"])

    async def test_refuses_illegal_transitions(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service)
        me = callers.officer(partner_id)
        oid = (await published(http, callers, partner_id))["opportunity_id"]
        again = await http.post(f"/opportunities/{oid}/publication", headers=me)
        assert_problem(again, 422, "status", "opportunity-draft")
        assert (await http.post(f"/opportunities/{oid}/closure", headers=me)).status_code == 200
        revised = await http.put(
            f"/opportunities/{oid}/terms", json=TERMS | {"title": "x"}, headers=me
        )
        assert_problem(revised, 422, "status", "opportunity-open")
        assert (await shown(http, callers, partner_id, oid))["status"] == "closed"


# -- revisions, envelope and cancellation ----------------------------------------------------


class TestRevisionsAndEnvelope:
    async def test_revisions_are_numbered_and_each_stays_visible(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service)
        opened = await published(http, callers, partner_id)
        oid = opened["opportunity_id"]
        response = await http.put(
            f"/opportunities/{oid}/terms",
            json=TERMS | {"max_amount": "200000000.00", "eligible_regions": ["32.73", "32.04"]},
            headers=callers.officer(partner_id) | {"If-Match": f'"{opened["version"]}"'},
        )
        assert response.status_code == 200, response.text
        public = (await http.get(f"/opportunities/{oid}")).json()
        assert public["revision"] == 2
        assert [(r["revision"], r["terms"]["max_amount"]) for r in public["revisions"]] == [
            (1, "150000000.00"),
            (2, "200000000.00"),
        ]
        assert public["terms"]["eligible_regions"] == ["32.04", "32.73"]

    async def test_the_envelope_shows_what_signed_agreements_leave(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service)
        oid = (await published(http, callers, partner_id))["opportunity_id"]
        agreement = sign(service, partner_id, oid, "120000000.00")
        envelope = (await http.get(f"/opportunities/{oid}/envelope")).json()
        assert envelope == {
            "opportunity_id": oid,
            "envelope": "300000000.00",
            "committed": "120000000.00",
            "remaining": "180000000.00",
            "exhausted": False,
            "commitments": [
                {
                    "agreement_id": str(agreement),
                    "amount": "120000000.00",
                    "disbursed": "0.00",
                    "released": "0.00",
                    "state": "signed",
                }
            ],
        }
        # Committed money cannot be cancelled away, nor the envelope shrunk below it.
        me = callers.officer(partner_id)
        cancel = await http.post(
            f"/opportunities/{oid}/cancellation", json={"reason": "batal"}, headers=me
        )
        assert_problem(cancel, 422, "status", "nothing-committed")
        shrink = TERMS | {"envelope": "100000000.00", "max_amount": "100000000.00"}
        response = await http.put(f"/opportunities/{oid}/terms", json=shrink, headers=me)
        assert_problem(response, 422, "envelope", "envelope-covers-committed")
        assert (await shown(http, callers, partner_id, oid))["status"] == "open"

    async def test_an_officer_cancels_an_opportunity_nothing_was_committed_to(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service)
        oid = (await published(http, callers, partner_id))["opportunity_id"]
        response = await http.post(
            f"/opportunities/{oid}/cancellation",
            json={"reason": "Anggaran dialihkan"},
            headers=callers.officer(partner_id),
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled"
        await listed(http, "aspect=environment", oid, present=False)


# -- the open list ---------------------------------------------------------------------------


class TestOpenList:
    async def test_filters_by_region_prefix_aspect_kind_and_amount(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service)
        city = (await published(http, callers, partner_id))["opportunity_id"]
        province = (
            await published(
                http,
                callers,
                partner_id,
                eligible_regions=["32"],
                aspects=["economy"],
                activity_kinds=["revolving_loan"],
                min_amount="5000000.00",
                max_amount="20000000.00",
            )
        )["opportunity_id"]
        elsewhere = (await published(http, callers, partner_id, eligible_regions=["31.71"]))[
            "opportunity_id"
        ]
        draft = (await drafted(http, callers, partner_id))["opportunity_id"]

        in_bandung = await listed(http, "region=32.73.01.1001", elsewhere, present=False)
        page = (await http.get("/opportunities?region=32.73.01.1001&limit=500")).json()
        item = next(i for i in page["items"] if i["opportunity_id"] == city)
        assert item == {
            "opportunity_id": city,
            "partner_id": partner_id,
            "partner_name": "PT Sinar Nusantara Tbk",
            "revision": 1,
            "title": TERMS["title"],
            "source_kind": "csr",
            "aspects": ["environment"],
            "activity_kinds": ["clean_water", "sanitation"],
            "eligible_regions": ["32.73"],
            "min_amount": "25000000.00",
            "max_amount": "150000000.00",
            "envelope": "300000000.00",
            "committed": "0.00",
            "remaining": "300000000.00",
            "required_swadaya_percent": "10.00",
            "open_date": "2027-01-01",
            "close_date": "2027-06-30",
        }
        await listed(http, "region=31.71.01.1001", elsewhere, present=True)
        assert {city, province} <= set(in_bandung)
        assert draft not in in_bandung
        # A sibling city (32.04) is inside the province's prefix but not the city's.
        in_bogor = await listed(http, "region=32.04.01.1001", province, present=True)
        assert city not in in_bogor
        # Whole segments only: 32.7 is malformed, and 32.730... is not inside 32.73.
        assert_problem(await http.get("/opportunities?region=32.7"), 422, "region")

        economy = await listed(http, "region=32.73.01.1001&aspect=economy", province, True)
        assert city not in economy
        water = await listed(http, "kind=clean_water&region=32.73.01.1001", city, True)
        assert province not in water
        # 10M fits the province's 5M-20M range but is below the city's 25M minimum.
        small = await listed(http, "amount=10000000.00&region=32.73", province, True)
        assert city not in small
        assert_problem(await http.get("/opportunities?aspect=spiritual"), 422, "aspect")

    async def test_pages_follow_each_other_without_gaps_or_repeats(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service)
        ids = [
            (await published(http, callers, partner_id, eligible_regions=["35", "35.78"]))[
                "opportunity_id"
            ]
            for _ in range(5)
        ]
        # Each is eligible through two of the region's prefixes, and listed once.
        await listed(http, "region=35.78.01.1001", ids[-1], present=True)
        seen: list[str] = []
        after = 0
        while True:
            response = await http.get(f"/opportunities?region=35.78.01.1001&limit=2&after={after}")
            page = response.json()
            seen += [item["opportunity_id"] for item in page["items"]]
            if page["next_after"] is None:
                break
            after = page["next_after"]
        assert seen == ids

    async def test_a_closed_opportunity_leaves_the_list(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service)
        oid = (await published(http, callers, partner_id, eligible_regions=["33"]))[
            "opportunity_id"
        ]
        await listed(http, "region=33.01", oid, present=True)
        closed = await http.post(
            f"/opportunities/{oid}/closure", headers=callers.officer(partner_id)
        )
        assert closed.json()["closed_on"] is not None
        await listed(http, "region=33.01", oid, present=False)

    async def test_an_amount_the_remaining_envelope_cannot_fund_is_not_listed(
        self, service: FastAPI, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = known_partner(service)
        oid = (await published(http, callers, partner_id, eligible_regions=["34.71"]))[
            "opportunity_id"
        ]
        for query in ("amount=120000000.00&region=34.71.01.1001", "amount=120000000.00"):
            await listed(http, query, oid, present=True)
        sign(service, partner_id, oid, "150000000.00")
        sign(service, partner_id, oid, "50000000.00")
        # 100M remains: 120M can no longer be funded, 100M still can, by either query.
        for query in ("amount=120000000.00&region=34.71.01.1001", "amount=120000000.00"):
            await listed(http, query, oid, present=False)
        await listed(http, "amount=100000000.00&region=34.71", oid, present=True)
