"""The scheduled close, driven by a fake clock: the service's own loop (as the runtime
supervises it) closes an open opportunity once its close date has passed, and only then.

Runs on real Postgres and Kafka, so the loop reads the read model's index and the close
leaves as a public event like any other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from eventsourcing.persistence import Tracking
from fastapi import FastAPI
from salur_contracts import registry
from salur_contracts.cloudevents import new_envelope
from salur_kit.consumer import EventSourcedEffects
from salur_kit.devtokens import DevIssuer
from salur_kit.testing.callers import Callers
from salur_kit.testing.services import asgi_client, running_api_on_scratch_database
from salur_opportunities.application import OpportunitiesApplication
from salur_opportunities.bootstrap import SPEC
from salur_opportunities.integration import to_integration
from salur_opportunities.schedule import AutoClose, auto_close

pytestmark = pytest.mark.integration

TERMS: dict[str, Any] = {
    "title": "Beasiswa 2027",
    "source_kind": "grant",
    "aspects": ["social"],
    "activity_kinds": ["scholarship"],
    "eligible_regions": ["32.73"],
    "min_amount": "1000000.00",
    "max_amount": "5000000.00",
    "envelope": "50000000.00",
    "required_swadaya_percent": "0",
    "open_date": "2027-01-01",
}


class FakeClock:
    def __init__(self, today: dt.date) -> None:
        self.today = today

    def __call__(self) -> dt.date:
        return self.today


@pytest.fixture(params=["with the loop", "without it"])
async def service(
    request: pytest.FixtureRequest,
    postgres_admin_url: str,
    kafka_bootstrap_servers: str,
    dev_issuer: DevIssuer,
) -> AsyncIterator[FastAPI]:
    loops = (auto_close(every_seconds=0.05),) if request.param == "with the loop" else ()
    spec = dataclasses.replace(SPEC, consumers=(), loops=loops)
    async with running_api_on_scratch_database(
        spec,
        postgres_admin_url=postgres_admin_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        jwks_path=dev_issuer.jwks_path,
    ) as api:
        yield api


def verified_partner(app: OpportunitiesApplication) -> str:
    partner_id = uuid.uuid4()
    effects = EventSourcedEffects(app, app.policy)
    for version, data in enumerate(
        (
            registry.PartnerRegistered(
                partner_id=partner_id,
                kind="donor",
                name="Yayasan Cerdas",
                contact_name="Sari",
                contact_email="sari@cerdas.or.id",
                contact_phone="+62 22 555123",
                regions_of_operation=["32"],
            ),
            registry.PartnerVerified(partner_id=partner_id, verified_by="fasilitator"),
        ),
        start=1,
    ):
        envelope = new_envelope(data, aggregate_version=version)
        effects.apply(envelope, Tracking(f"opportunities:{envelope.source}:{partner_id}", version))
    return str(partner_id)


async def published(
    http: httpx.AsyncClient, callers: Callers, partner_id: str, close_date: str
) -> str:
    headers = callers.officer(partner_id)
    body = TERMS | {"partner_id": partner_id, "close_date": close_date}
    oid: str = (await http.post("/opportunities", json=body, headers=headers)).json()[
        "opportunity_id"
    ]
    response = await http.post(f"/opportunities/{oid}/publication", headers=headers)
    assert response.status_code == 200, response.text
    return oid


async def status_of(http: httpx.AsyncClient, oid: str) -> tuple[str, str | None]:
    body = (await http.get(f"/opportunities/{oid}")).json()
    return body["status"], body["closed_on"]


@pytest.mark.parametrize("service", ["with the loop"], indirect=True)
async def test_the_service_closes_an_opportunity_the_day_after_its_close_date(
    service: FastAPI, callers: Callers
) -> None:
    app: OpportunitiesApplication = service.state.application
    clock = FakeClock(dt.date(2027, 1, 10))
    app.clock = clock
    partner_id = verified_partner(app)
    async with asgi_client(service, "opportunities") as http:
        june = await published(http, callers, partner_id, "2027-06-30")
        july = await published(http, callers, partner_id, "2027-07-31")

        # On the close date itself proposals are still taken: both stay open.
        clock.today = dt.date(2027, 6, 30)
        await asyncio.sleep(0.5)
        assert (await status_of(http, june)) == ("open", None)

        # The day after, the loop closes the first, as of that day; the second stays open.
        clock.today = dt.date(2027, 7, 1)
        for _ in range(100):
            if (await status_of(http, june))[0] == "closed":
                break
            await asyncio.sleep(0.05)
        assert (await status_of(http, june)) == ("closed", "2027-07-01")
        assert (await status_of(http, july)) == ("open", None)

    events = [to_integration(e) for e in app.repository.event_store.get(uuid.UUID(june))]
    closed = events[-1]
    assert closed is not None
    assert closed.model_dump(include={"closed_because", "closed_on"}) == {
        "closed_because": "close_date_reached",
        "closed_on": dt.date(2027, 7, 1),
    }


@pytest.mark.parametrize("service", ["without it"], indirect=True)
async def test_a_check_run_late_closes_as_of_the_day_after_the_close_date_once(
    service: FastAPI, callers: Callers
) -> None:
    app: OpportunitiesApplication = service.state.application
    clock = FakeClock(dt.date(2027, 1, 10))
    app.clock = clock
    partner_id = verified_partner(app)
    check = AutoClose(app, service.state.read_pool)
    async with asgi_client(service, "opportunities") as http:
        oid = uuid.UUID(await published(http, callers, partner_id, "2027-03-31"))
        for _ in range(100):  # the projection lists it as open
            if (await http.get("/opportunities?region=32.73.01.1001")).json()["items"]:
                break
            await asyncio.sleep(0.05)
        assert await check.tick() == []
        clock.today = dt.date(2027, 5, 2)  # the service was down for a month
        assert await check.tick() == [oid]
        assert (await status_of(http, str(oid))) == ("closed", "2027-04-01")
        assert await check.tick() == [], "the aggregate refuses a second close"
