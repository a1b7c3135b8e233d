"""Registry over HTTP: every command's success, bad input and forbidden callers.

Runs the service as built for production (real Postgres, real Kafka, real JWT checks).
After each refused request the BKM is read again to show that nothing changed.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from salur_kit.devtokens import DevIssuer
from salur_kit.testing.callers import Callers
from salur_kit.testing.services import asgi_client, running_api_on_scratch_database
from salur_registry.bootstrap import SPEC

pytestmark = pytest.mark.integration


# -- a registry built exactly as in production, on real Postgres and Kafka ---------------


@pytest.fixture(scope="module")
async def registry(
    postgres_admin_url: str, kafka_bootstrap_servers: str, dev_issuer: DevIssuer
) -> AsyncIterator[FastAPI]:
    async with running_api_on_scratch_database(
        SPEC,
        postgres_admin_url=postgres_admin_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        jwks_path=dev_issuer.jwks_path,
    ) as api:
        yield api


@pytest.fixture
async def http(registry: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(registry, "registry") as client:
        yield client


BKM = {
    "name": "BKM Mekar Sari",
    "region_code": "32.73.01.1001",
    "address": "Jl. Cibeunying 4, Bandung",
    "legal_deed_number": "AHU-0001",
    "founded_on": "2008-03-12",
}
ACCOUNT = {"bank_name": "BRI", "account_number": "0123456789", "account_holder": "BKM Mekar Sari"}
PARTNER = {
    "kind": "company_csr",
    "name": "PT Sinar Jaya CSR",
    "contact_name": "Ani",
    "contact_email": "csr@sinarjaya.co.id",
    "contact_phone": "+62 22 1234567",
    "regions_of_operation": ["32.73"],
}


async def new_bkm(http: httpx.AsyncClient, callers: Callers, **overrides: Any) -> dict[str, Any]:
    response = await http.post("/bkms", json=BKM | overrides, headers=callers.facilitator())
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def version_of(http: httpx.AsyncClient, callers: Callers, bkm_id: str) -> int:
    response = await http.get(f"/bkms/{bkm_id}", headers=callers.auditor())
    return int(response.json()["version"])


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    if field is not None:
        fields = [e["field"] for e in problem.get("errors", [])]
        assert any(field in f for f in fields), (field, problem)


class TestRegisterBkm:
    async def test_a_facilitator_registers_a_bkm_in_their_region(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        response = await http.post("/bkms", json=BKM, headers=callers.facilitator())
        assert response.status_code == 201
        body = response.json()
        assert response.headers["location"] == f"/bkms/{body['bkm_id']}"
        assert response.headers["etag"] == '"1"'
        assert body["status"] == "registered"
        assert body["region_code"] == "32.73.01.1001"

    async def test_an_operator_registers_their_own_bkm(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        own = uuid.uuid4()
        response = await http.post(
            "/bkms", json=BKM | {"bkm_id": str(own)}, headers=callers.operator(own)
        )
        assert response.status_code == 201
        assert response.json()["bkm_id"] == str(own)

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"region_code": "32.73.1.1001"}, "region_code"),
            ({"region_code": "3273011001"}, "region_code"),
            ({"founded_on": 20080312}, "founded_on"),
            ({"name": ""}, "name"),
            ({"website": "https://bkm.example"}, "website"),
        ],
    )
    async def test_refuses_bad_fields_naming_them(
        self, http: httpx.AsyncClient, callers: Callers, change: dict[str, Any], field: str
    ) -> None:
        response = await http.post("/bkms", json=BKM | change, headers=callers.facilitator())
        assert_problem(response, 422, field)

    async def test_refuses_a_missing_field(self, http: httpx.AsyncClient, callers: Callers) -> None:
        body = {k: v for k, v in BKM.items() if k != "address"}
        response = await http.post("/bkms", json=body, headers=callers.facilitator())
        assert_problem(response, 422, "address")

    async def test_refuses_malformed_json(self, http: httpx.AsyncClient, callers: Callers) -> None:
        response = await http.post(
            "/bkms",
            content=b'{"name": "BKM",',
            headers=callers.facilitator() | {"content-type": "application/json"},
        )
        assert_problem(response, 400)

    async def test_refuses_an_oversize_payload(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        response = await http.post(
            "/bkms", json=BKM | {"address": "x" * 100_000}, headers=callers.facilitator()
        )
        assert_problem(response, 413)

    async def test_refuses_a_caller_without_a_token(self, http: httpx.AsyncClient) -> None:
        response = await http.post("/bkms", json=BKM)
        assert_problem(response, 401)

    @pytest.mark.parametrize("who", ["other_region", "auditor", "other_operator"])
    async def test_refuses_callers_who_may_not_register_it(
        self, http: httpx.AsyncClient, callers: Callers, who: str
    ) -> None:
        headers = {
            "other_region": callers.facilitator("31.71"),
            "auditor": callers.auditor(),
            "other_operator": callers.operator(uuid.uuid4()),
        }[who]
        response = await http.post(
            "/bkms", json=BKM | {"bkm_id": str(uuid.uuid4())}, headers=headers
        )
        assert_problem(response, 403)

    async def test_the_same_idempotency_key_gives_the_same_answer_and_one_bkm(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        key = {"Idempotency-Key": str(uuid.uuid4())}
        headers = callers.facilitator() | key
        first = await http.post("/bkms", json=BKM, headers=headers)
        again = await http.post("/bkms", json=BKM, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        assert again.headers.get("idempotent-replayed") == "true"
        other = await http.post("/bkms", json=BKM | {"name": "Lain"}, headers=headers)
        assert_problem(other, 422)


class TestUnitsAndAccount:
    async def test_the_operator_adds_and_removes_units(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm = await new_bkm(http, callers)
        me = callers.operator(uuid.UUID(bkm["bkm_id"]))
        added = await http.post(
            f"/bkms/{bkm['bkm_id']}/units",
            json={"unit": "UPK", "head_name": "Siti"},
            headers=me | {"If-Match": '"1"'},
        )
        assert added.status_code == 200, added.text
        assert added.json()["units"] == {"UPK": "Siti"}
        assert added.headers["etag"] == '"2"'
        removed = await http.delete(f"/bkms/{bkm['bkm_id']}/units/UPK", headers=me)
        assert removed.json()["units"] == {}

    async def test_refuses_an_unknown_unit_kind(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm = await new_bkm(http, callers)
        me = callers.operator(uuid.UUID(bkm["bkm_id"]))
        response = await http.post(
            f"/bkms/{bkm['bkm_id']}/units", json={"unit": "UPX", "head_name": "A"}, headers=me
        )
        assert_problem(response, 422, "unit")
        assert await version_of(http, callers, bkm["bkm_id"]) == 1

    async def test_refuses_a_unit_twice_as_a_rule(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm = await new_bkm(http, callers)
        me = callers.operator(uuid.UUID(bkm["bkm_id"]))
        unit = {"unit": "UPL", "head_name": "A"}
        await http.post(f"/bkms/{bkm['bkm_id']}/units", json=unit, headers=me)
        again = await http.post(f"/bkms/{bkm['bkm_id']}/units", json=unit, headers=me)
        assert_problem(again, 422)
        assert await version_of(http, callers, bkm["bkm_id"]) == 2

    async def test_refuses_a_stale_version(self, http: httpx.AsyncClient, callers: Callers) -> None:
        bkm = await new_bkm(http, callers)
        me = callers.operator(uuid.UUID(bkm["bkm_id"]))
        url = f"/bkms/{bkm['bkm_id']}/units"
        await http.post(url, json={"unit": "UPK", "head_name": "A"}, headers=me)
        stale = await http.post(
            url, json={"unit": "UPS", "head_name": "B"}, headers=me | {"If-Match": '"1"'}
        )
        assert_problem(stale, 409)
        assert await version_of(http, callers, bkm["bkm_id"]) == 2

    async def test_another_operator_may_not_touch_the_bkm(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm = await new_bkm(http, callers)
        response = await http.put(
            f"/bkms/{bkm['bkm_id']}/bank-account",
            json=ACCOUNT,
            headers=callers.operator(uuid.uuid4()),
        )
        assert_problem(response, 403)
        assert await version_of(http, callers, bkm["bkm_id"]) == 1

    async def test_refuses_an_account_number_that_is_not_digits(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm = await new_bkm(http, callers)
        me = callers.operator(uuid.UUID(bkm["bkm_id"]))
        response = await http.put(
            f"/bkms/{bkm['bkm_id']}/bank-account",
            json=ACCOUNT | {"account_number": "12-34x"},
            headers=me,
        )
        assert_problem(response, 422, "account_number")

    async def test_a_changed_account_of_a_verified_bkm_awaits_confirmation(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm = await new_bkm(http, callers)
        bkm_id = bkm["bkm_id"]
        me = callers.operator(uuid.UUID(bkm_id))
        await http.put(f"/bkms/{bkm_id}/bank-account", json=ACCOUNT, headers=me)
        verified = await http.post(f"/bkms/{bkm_id}/verification", headers=callers.facilitator())
        assert verified.json()["bank_account"]["confirmation"] == "confirmed"
        changed = await http.put(
            f"/bkms/{bkm_id}/bank-account",
            json=ACCOUNT | {"account_number": "5556667778"},
            headers=me,
        )
        assert changed.json()["bank_account"]["confirmation"] == "awaiting_confirmation"
        outsider = await http.post(
            f"/bkms/{bkm_id}/bank-account/confirmation", headers=callers.facilitator("31.71")
        )
        assert_problem(outsider, 403)
        confirmed = await http.post(
            f"/bkms/{bkm_id}/bank-account/confirmation", headers=callers.facilitator()
        )
        assert confirmed.json()["bank_account"]["confirmation"] == "confirmed"


class TestStatus:
    async def test_verification_needs_a_bank_account(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm = await new_bkm(http, callers)
        response = await http.post(
            f"/bkms/{bkm['bkm_id']}/verification", headers=callers.facilitator()
        )
        assert_problem(response, 422)
        assert response.json()["errors"][0]["rule"] == "bank-account-required"
        assert await version_of(http, callers, bkm["bkm_id"]) == 1

    async def test_an_operator_cannot_verify_their_own_bkm(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm = await new_bkm(http, callers)
        me = callers.operator(uuid.UUID(bkm["bkm_id"]))
        assert_problem(await http.post(f"/bkms/{bkm['bkm_id']}/verification", headers=me), 403)

    async def test_suspend_and_reinstate_with_reasons(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        bkm = await new_bkm(http, callers)
        url = f"/bkms/{bkm['bkm_id']}"
        short = await http.post(
            f"{url}/suspension", json={"reason": ""}, headers=callers.facilitator()
        )
        assert_problem(short, 422, "reason")
        suspended = await http.post(
            f"{url}/suspension", json={"reason": "laporan terlambat"}, headers=callers.facilitator()
        )
        assert suspended.json()["status"] == "suspended"
        again = await http.post(
            f"{url}/suspension", json={"reason": "lagi"}, headers=callers.facilitator()
        )
        assert_problem(again, 422)
        reinstated = await http.post(
            f"{url}/reinstatement", json={"reason": "sudah lapor"}, headers=callers.facilitator()
        )
        assert reinstated.json()["status"] == "registered"

    async def test_an_unknown_bkm_is_a_404(self, http: httpx.AsyncClient, callers: Callers) -> None:
        response = await http.post(
            f"/bkms/{uuid.uuid4()}/verification", headers=callers.facilitator()
        )
        assert_problem(response, 404)


class TestPartners:
    async def test_an_officer_registers_and_a_facilitator_verifies(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        partner_id = uuid.uuid4()
        registered = await http.post(
            "/partners",
            json=PARTNER | {"partner_id": str(partner_id)},
            headers=callers.officer(partner_id),
        )
        assert registered.status_code == 201, registered.text
        outsider = await http.post(
            f"/partners/{partner_id}/verification", headers=callers.facilitator("31.71")
        )
        assert_problem(outsider, 403)
        verified = await http.post(
            f"/partners/{partner_id}/verification", headers=callers.facilitator()
        )
        assert verified.json()["status"] == "verified"

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"kind": "bakery"}, "kind"),
            ({"regions_of_operation": []}, "regions_of_operation"),
            ({"regions_of_operation": ["32.7"]}, "regions_of_operation"),
            ({"contact_email": "not-an-email"}, "contact_email"),
        ],
    )
    async def test_refuses_bad_partner_fields(
        self, http: httpx.AsyncClient, callers: Callers, change: dict[str, Any], field: str
    ) -> None:
        partner_id = uuid.uuid4()
        response = await http.post(
            "/partners",
            json=PARTNER | {"partner_id": str(partner_id)} | change,
            headers=callers.officer(partner_id),
        )
        assert_problem(response, 422, field)

    async def test_an_officer_cannot_register_another_partner(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        response = await http.post(
            "/partners",
            json=PARTNER | {"partner_id": str(uuid.uuid4())},
            headers=callers.officer(uuid.uuid4()),
        )
        assert_problem(response, 403)


class TestQueries:
    async def test_lists_filter_by_region_status_and_kind_and_paginate(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        region = f"32.73.{uuid.uuid4().int % 90 + 10:02d}"
        ids = []
        for n in range(3):
            bkm = await new_bkm(http, callers, region_code=f"{region}.{2000 + n}")
            ids.append(bkm["bkm_id"])
        me = callers.operator(uuid.UUID(ids[0]))
        await http.put(f"/bkms/{ids[0]}/bank-account", json=ACCOUNT, headers=me)
        await http.post(f"/bkms/{ids[0]}/verification", headers=callers.facilitator())

        async def listed(**params: Any) -> dict[str, Any]:
            for _ in range(50):  # the list is a projection: eventually consistent
                page = (await http.get("/bkms", params=params, headers=callers.auditor())).json()
                if page["items"] and any(i["status"] == "verified" for i in page["items"]):
                    return dict(page)
                await asyncio.sleep(0.1)
            return dict(page)

        everything = await listed(region=region)
        assert [i["bkm_id"] for i in everything["items"]] == ids
        verified = await listed(region=region, status="verified")
        assert [i["bkm_id"] for i in verified["items"]] == ids[:1]
        first = (
            await http.get(
                "/bkms", params={"region": region, "limit": 2}, headers=callers.auditor()
            )
        ).json()
        assert len(first["items"]) == 2
        rest = (
            await http.get(
                "/bkms",
                params={"region": region, "limit": 2, "after": first["next_after"]},
                headers=callers.auditor(),
            )
        ).json()
        assert [i["bkm_id"] for i in first["items"] + rest["items"]] == ids
        assert rest["next_after"] is None

    async def test_refuses_a_malformed_region_filter(
        self, http: httpx.AsyncClient, callers: Callers
    ) -> None:
        response = await http.get("/bkms", params={"region": "32.7x"}, headers=callers.auditor())
        assert_problem(response, 422, "region")


async def test_a_registered_bkm_appears_on_kafka_as_a_cloudevent(
    http: httpx.AsyncClient, callers: Callers, kafka_bootstrap_servers: str
) -> None:
    consumer = AIOKafkaConsumer(
        "salur.registry.events.v1",
        bootstrap_servers=kafka_bootstrap_servers,
        group_id=None,
        auto_offset_reset="latest",
    )
    await consumer.start()
    try:
        for partition in consumer.assignment():  # pin the current ends before the command
            await consumer.position(partition)
        bkm = await new_bkm(http, callers)

        found = None
        for _ in range(40):
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    if message.key == bkm["bkm_id"].encode():
                        found = message
            if found:
                break
        assert found is not None, "the event reached Kafka"
        headers = {k: v.decode() for k, v in found.headers}
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_type"] == "salur.registry.BkmRegistered.v1"
        assert headers["ce_source"].endswith("registry")
        assert headers["ce_subject"] == bkm["bkm_id"]
        assert headers["ce_aggregateversion"] == "1"
        assert headers["content-type"] == "application/json"
        assert headers["ce_dataschema"].endswith("salur.registry.BkmRegistered.v1.json")
        uuid.UUID(headers["ce_id"])
        assert headers["ce_traceparent"].startswith("00-")
        data = json.loads(found.value)
        assert data["bkm_id"] == bkm["bkm_id"]
        assert data["region_code"] == "32.73.01.1001"
        assert data["founded_on"] == "2008-03-12"
    finally:
        await consumer.stop()
