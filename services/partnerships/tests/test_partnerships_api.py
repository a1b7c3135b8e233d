"""Partnerships over HTTP (built by `build_api` on real Postgres and Kafka): commands, bad
input as problem+json that changes nothing, the wrong party, stale versions, idempotent
replay of a disbursement, and totals from the read model.

Facts from other services reach the app through the tracked effects (the Kafka path is in
test_partnerships_streams.py); the set-up of an agreement uses the application directly.
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
from fastapi import FastAPI
from partnerships_world import ACCOUNT, SHA, World
from salur_kit.devtokens import DevIssuer
from salur_kit.testing.callers import Callers
from salur_kit.testing.services import asgi_client, running_api_on_scratch_database
from salur_partnerships.bootstrap import SPEC

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def partnerships(
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
async def http(partnerships: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(partnerships, "partnerships") as client:
        yield client


@pytest.fixture
def world(partnerships: FastAPI) -> World:
    return World(partnerships.state.application).everything()


TRANCHE = {"amount": "25000000.00", "transfer_reference": "BRI-1", "disbursed_on": "2027-02-10"}


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    if field is not None:
        fields = [e.get("field") or "" for e in problem.get("errors", [])]
        fields.append(problem.get("field") or "")
        assert any(field in f for f in fields), (field, problem)


async def agreement_version(http: httpx.AsyncClient, callers: Callers, a: Any) -> int:
    response = await http.get(f"/agreements/{a}", headers=callers.auditor())
    assert response.status_code == 200, response.text
    return int(response.json()["version"])


# -- proposals and agreements over HTTP --------------------------------------------------------


async def test_a_proposal_is_submitted_accepted_and_drawn_into_an_agreement_signed_by_both(
    http: httpx.AsyncClient, callers: Callers, world: World
) -> None:
    proposal = await http.post(
        "/proposals",
        json={
            "plan_id": str(world.plan_id),
            "activity_id": str(world.activity_id),
            "opportunity_id": str(world.opportunity_id),
            "amount_requested": "75000000.00",
            "swadaya_amount": "15000000.00",
            "work_plan": "Galian dan pasangan batu",
        },
        headers=callers.operator(world.bkm_id),
    )
    assert proposal.status_code == 201, proposal.text
    proposal_id = proposal.json()["proposal_id"]
    accepted = await http.post(
        f"/proposals/{proposal_id}/acceptance",
        headers=callers.officer(world.partner_id) | {"If-Match": proposal.headers["ETag"]},
    )
    assert accepted.json()["status"] == "accepted"
    drawn = await http.post(
        f"/proposals/{proposal_id}/agreement",
        json={
            "amount": "75000000.00",
            "tranches": [
                {"percent": "40", "condition": "ditandatangani"},
                {"percent": "60", "condition": "laporan tahap 1 diterima"},
            ],
            "reporting_duty": "Laporan per tahap",
            "start_date": "2027-02-01",
            "end_date": "2027-12-31",
            "document_sha256": SHA,
        },
        headers=callers.officer(world.partner_id),
    )
    assert drawn.status_code == 201, drawn.text
    assert [t["amount"] for t in drawn.json()["tranches"]] == ["30000000.00", "45000000.00"]
    agreement_id = drawn.json()["agreement_id"]
    for party, caller in (
        ("partner", callers.officer(world.partner_id)),
        ("bkm", callers.operator(world.bkm_id)),
    ):
        signed = await http.post(f"/agreements/{agreement_id}/signatures/{party}", headers=caller)
        assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "in_force"


async def test_refuses_a_schedule_that_does_not_sum_to_the_amount(
    http: httpx.AsyncClient, callers: Callers, world: World
) -> None:
    proposal_id = world.proposal()
    world.app.accept_proposal(world.officer, proposal_id, None)
    response = await http.post(
        f"/proposals/{proposal_id}/agreement",
        json={
            "amount": "75000000.00",
            "tranches": [{"amount": "70000000.00", "condition": "x"}],
            "reporting_duty": "x",
            "start_date": "2027-02-01",
            "end_date": "2027-12-31",
            "document_sha256": SHA,
        },
        headers=callers.officer(world.partner_id),
    )
    assert_problem(response, 422, "tranches")
    assert world.app.get_proposal(proposal_id).agreement_id is None


# -- disbursement: bad input, wrong party, order, replay ------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**TRANCHE, "amount": 25000000.0}, "amount"),
        ({**TRANCHE, "amount": "-25000000.00"}, "amount"),
        ({**TRANCHE, "amount": "25000000.001"}, "amount"),
        ({**TRANCHE, "bonus": "1"}, "bonus"),
        ({**TRANCHE, "destination_account": "12ab"}, "destination_account"),
        ({k: v for k, v in TRANCHE.items() if k != "transfer_reference"}, "transfer_reference"),
    ],
)
async def test_refuses_bad_disbursement_input_and_changes_nothing(
    http: httpx.AsyncClient, callers: Callers, world: World, body: dict[str, Any], field: str
) -> None:
    agreement_id = world.signed()
    before = await agreement_version(http, callers, agreement_id)
    response = await http.post(
        f"/agreements/{agreement_id}/tranches/1/disbursement",
        json=body,
        headers=callers.officer(world.partner_id),
    )
    assert_problem(response, 422, field)
    assert await agreement_version(http, callers, agreement_id) == before


async def test_refuses_malformed_json(
    http: httpx.AsyncClient, callers: Callers, world: World
) -> None:
    agreement_id = world.signed()
    response = await http.post(
        f"/agreements/{agreement_id}/tranches/1/disbursement",
        content=b'{"amount": "25000000.00",',
        headers=callers.officer(world.partner_id) | {"Content-Type": "application/json"},
    )
    assert_problem(response, 400, "body")
    assert world.app.get_agreement(agreement_id).total_disbursed == 0


async def test_refuses_a_disbursement_by_another_partner_or_by_the_bkm(
    http: httpx.AsyncClient, callers: Callers, world: World
) -> None:
    agreement_id = world.signed()
    for caller in (callers.officer(uuid.uuid4()), callers.operator(world.bkm_id)):
        response = await http.post(
            f"/agreements/{agreement_id}/tranches/1/disbursement", json=TRANCHE, headers=caller
        )
        assert_problem(response, 403)
    assert world.app.get_agreement(agreement_id).total_disbursed == 0


async def test_refuses_disbursing_before_both_signatures_and_twice(
    http: httpx.AsyncClient, callers: Callers, world: World
) -> None:
    agreement_id = world.agreement()
    url = f"/agreements/{agreement_id}/tranches/1/disbursement"
    officer = callers.officer(world.partner_id)
    assert_problem(await http.post(url, json=TRANCHE, headers=officer), 422, "status")
    world.app.sign(world.officer, agreement_id, "partner", None)
    world.app.sign(world.operator, agreement_id, "bkm", None)
    assert (await http.post(url, json=TRANCHE, headers=officer)).status_code == 200
    again = await http.post(url, json={**TRANCHE, "transfer_reference": "BRI-2"}, headers=officer)
    assert_problem(again, 409, "tranche")


async def test_refuses_a_disbursement_on_a_stale_version(
    http: httpx.AsyncClient, callers: Callers, world: World
) -> None:
    agreement_id = world.signed()
    response = await http.post(
        f"/agreements/{agreement_id}/tranches/1/disbursement",
        json=TRANCHE,
        headers=callers.officer(world.partner_id) | {"If-Match": '"2"'},
    )
    assert_problem(response, 409, "If-Match")
    assert world.app.get_agreement(agreement_id).total_disbursed == 0


async def test_a_replayed_disbursement_gets_the_same_answer_and_disburses_once(
    http: httpx.AsyncClient, callers: Callers, world: World
) -> None:
    agreement_id = world.signed()
    headers = callers.officer(world.partner_id) | {"Idempotency-Key": str(uuid.uuid4())}
    url = f"/agreements/{agreement_id}/tranches/1/disbursement"
    first = await http.post(url, json=TRANCHE, headers=headers)
    second = await http.post(url, json=TRANCHE, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.headers["ETag"] == second.headers["ETag"]
    agreement = world.app.get_agreement(agreement_id)
    assert agreement.total_disbursed == Decimal("25000000.00")
    assert agreement.disbursed[1]["transfer_reference"] == "BRI-1"
    assert first.json()["tranches"][0]["disbursed"] is True
    # The same key with another body is refused, not replayed.
    other = await http.post(url, json={**TRANCHE, "transfer_reference": "X"}, headers=headers)
    assert other.status_code == 422
    assert world.app.get_agreement(agreement_id).version == agreement.version


async def test_money_goes_to_the_bkms_verified_account_only(
    http: httpx.AsyncClient, callers: Callers, world: World
) -> None:
    agreement_id = world.signed()
    url = f"/agreements/{agreement_id}/tranches/1/disbursement"
    officer = callers.officer(world.partner_id)
    wrong = await http.post(url, json={**TRANCHE, "destination_account": "99999"}, headers=officer)
    assert_problem(wrong, 422, "destination_account")
    right = await http.post(url, json={**TRANCHE, "destination_account": ACCOUNT}, headers=officer)
    assert right.status_code == 200, right.text


# -- totals --------------------------------------------------------------------------------------


async def test_totals_per_agreement_bkm_partner_and_opportunity(
    http: httpx.AsyncClient, callers: Callers, world: World
) -> None:
    agreement_id = world.signed()
    world.disburse(agreement_id, 1)
    world.receive(agreement_id, 1)
    number = world.report(agreement_id, 1, "20000000.00")
    world.app.accept_report(world.officer, agreement_id, number, None)
    expected = {
        "agreements": 1,
        "committed": "75000000.00",
        "disbursed": "25000000.00",
        "spent": "20000000.00",
        "returned": "0.00",
    }
    for party, party_id in (
        ("agreement", agreement_id),
        ("bkm", world.bkm_id),
        ("partner", world.partner_id),
        ("opportunity", world.opportunity_id),
    ):
        for _ in range(100):  # the projection follows the log in the background
            response = await http.get(f"/totals/{party}/{party_id}", headers=callers.auditor())
            if response.json().get("spent") == expected["spent"]:
                break
            await asyncio.sleep(0.05)
        body = response.json()
        assert {k: body[k] for k in expected} == expected, (party, body)
