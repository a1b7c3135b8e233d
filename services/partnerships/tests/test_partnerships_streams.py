"""Partnerships on the real broker, next to the real planning service.

Registry's facts (published here as contract CloudEvents) reach both services; planning's
activity opened for channelling reaches partnerships through Kafka; opportunities' and
matching's facts (those services are built elsewhere) are published here with the contract
codec. Partnerships' AgreementSigned reaches planning, which marks the activity funded;
opportunities' EnvelopeCommitted turns partnerships' local reservation into its total.

An external agency reads the public events with a plain aiokafka consumer and validates
them with nothing but the committed JSON Schemas.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, TopicPartition
from fastapi import FastAPI
from partnerships_world import ACCOUNT, REGION, SHA, fact
from salur_contracts import matching, opportunities, partnerships, registry
from salur_contracts.base import IntegrationEvent
from salur_contracts.cloudevents import encode, new_envelope
from salur_kit.auth import Principal, Role
from salur_kit.devtokens import DevIssuer, ensure_issuer
from salur_kit.errors import NotFoundError
from salur_kit.runtime import ServiceSpec
from salur_kit.testing.databases import scratch_database
from salur_kit.testing.kafka import end_offsets, start_group_at_end
from salur_kit.testing.services import asgi_client, running_api
from salur_partnerships.application import PartnershipsApplication
from salur_partnerships.bootstrap import SPEC
from salur_partnerships.known import KnownBkm, KnownMatch, KnownOpportunity, KnownPlan
from salur_planning.application import PlanningApplication
from salur_planning.bootstrap import SPEC as PLANNING
from salur_planning.domain import Activity
from salur_planning.domain import KnownBkm as PlanningKnownBkm

pytestmark = pytest.mark.integration

SCHEMAS = Path(__file__).resolve().parents[3] / "contracts" / "schemas"
TOPIC = partnerships.AgreementSigned.topic()


@contextlib.asynccontextmanager
async def serving(
    spec: ServiceSpec, database_url: str, bootstrap: str, issuer: DevIssuer
) -> AsyncIterator[FastAPI]:
    """The service as production builds it, its consumer in a group of its own at the end."""
    consumer = spec.consumers[0]
    group = f"{consumer.group}-test-{uuid.uuid4().hex[:10]}"
    await start_group_at_end(bootstrap, group, list(consumer.topics))
    spec = dataclasses.replace(spec, consumers=(dataclasses.replace(consumer, group=group),))
    async with running_api(
        spec,
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        jwks_path=issuer.jwks_path,
    ) as api:
        yield api


async def publish(bootstrap: str, *events: IntegrationEvent, first_version: int = 1) -> None:
    """Events of one aggregate, numbered from `first_version` as their producer would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for version, data in enumerate(events, start=first_version):
            record = encode(new_envelope(data, aggregate_version=version))
            await producer.send_and_wait(
                data.topic(), value=record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


async def eventually(check: Callable[[], Awaitable[bool] | bool], seconds: float = 40.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        outcome = check()
        if outcome if isinstance(outcome, bool) else await outcome:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"not true within {seconds}s")


async def agency_reads(
    bootstrap: str, since: dict[TopicPartition, int], keys: set[bytes], last: bytes
) -> list[ConsumerRecord[bytes, bytes]]:
    """What another agency's plain Kafka client sees of these aggregates, up to `last`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        consumer.assign(list(since))
        for partition, offset in since.items():
            consumer.seek(partition, offset)
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                found += [r for r in records if r.key in keys]
            if any(dict(r.headers)["ce_type"] == last for r in found):
                break
    finally:
        await consumer.stop()
    return found


def validated_with_schema_only(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    """Decode as an agency would: headers, JSON, and the committed schema named by ce_type."""
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_source"] == "/salur/partnerships"
    assert headers["content-type"] == "application/json"
    assert headers["ce_subject"].encode() == record.key
    schema = json.loads((SCHEMAS / f"{headers['ce_type']}.json").read_text(encoding="utf-8"))
    assert headers["ce_dataschema"] == schema["$id"]
    data: dict[str, Any] = json.loads(record.value)
    jsonschema.validate(data, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return data


def _planning_knows_verified(planner: PlanningApplication, bkm_id: uuid.UUID) -> bool:
    try:
        return planner.load(PlanningKnownBkm, bkm_id, "BKM").status == "verified"
    except NotFoundError:
        return False


def _activity() -> Activity:
    return Activity(
        title="Normalisasi saluran RW 05",
        description="",
        aspect="environment",
        kind="drainage",
        location_region_code=REGION,
        rw="005",
        rt=None,
        poor_households=120,
        women=260,
        total_people=540,
        estimated_cost=Decimal("150000000.00"),
        swadaya_amount=Decimal("15000000.00"),
        swadaya_percent=None,
        blm_amount=Decimal("20000000.00"),
        planned_year=2027,
        priority=1,
    )


def _bearer(issuer: DevIssuer, role: Role, org: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(role=role, subject='test', org=org)}"}


@pytest.fixture
async def services(
    postgres_admin_url: str, kafka_bootstrap_servers: str, tmp_path: Path
) -> AsyncIterator[tuple[FastAPI, FastAPI, DevIssuer]]:
    issuer = ensure_issuer(tmp_path / "issuer")
    with (
        scratch_database(postgres_admin_url, "t_planning") as planning_db,
        scratch_database(postgres_admin_url, "t_partnerships") as partnerships_db,
    ):
        async with (
            serving(PLANNING, planning_db, kafka_bootstrap_servers, issuer) as planning_api,
            serving(SPEC, partnerships_db, kafka_bootstrap_servers, issuer) as partnerships_api,
        ):
            yield planning_api, partnerships_api, issuer


async def test_a_partnership_flows_between_planning_partnerships_and_an_agency_on_kafka(
    services: tuple[FastAPI, FastAPI, DevIssuer], kafka_bootstrap_servers: str
) -> None:
    planning_api, partnerships_api, issuer = services
    planner: PlanningApplication = planning_api.state.application
    app: PartnershipsApplication = partnerships_api.state.application
    bootstrap = kafka_bootstrap_servers
    bkm_id, partner_id, opportunity_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    since = await end_offsets(bootstrap, [TOPIC])

    # Registry: a verified BKM with a confirmed account, and a verified partner.
    ids = {"bkm_id": bkm_id, "region_code": REGION}
    await publish(
        bootstrap,
        fact(registry.BkmRegistered, **ids),
        fact(registry.BkmVerified, **ids),
        fact(
            registry.BkmBankAccountChanged, **ids, account_number=ACCOUNT, confirmation="confirmed"
        ),
    )
    await publish(bootstrap, fact(registry.PartnerRegistered, partner_id=partner_id))
    await eventually(lambda: (b := app.find(KnownBkm, bkm_id)) is not None and b.account_confirmed)

    # Planning (the real service): an endorsed plan opens an activity for channelling.
    operator = Principal("operator-test", Role.bkm_operator, organisation_id=bkm_id)
    await eventually(lambda: _planning_knows_verified(planner, bkm_id))
    plan = planner.draft_plan(operator, bkm_id=bkm_id, start_year=2026, end_year=2028)
    plan, activity_id = planner.add_activity(operator, plan.id, _activity(), None)
    planner.submit_plan(operator, plan.id, None)
    facilitator = Principal("fasilitator", Role.facilitator, region_prefix="32.73")
    planner.endorse_plan(
        facilitator,
        plan.id,
        meeting_date=dt.date(2026, 1, 10),
        attendance=87,
        minutes_sha256=SHA,
        expected=None,
    )
    planner.open_channelling(operator, plan.id, activity_id, Decimal("100000000.00"), None)

    def activity_open() -> bool:
        known = app.find(KnownPlan, plan.id)
        return known is not None and known.activities.get(activity_id, {}).get("open", False)

    await eventually(activity_open)

    # Opportunities and matching (published with the contract codec).
    match_id = matching.match_id(activity_id, opportunity_id)
    await publish(
        bootstrap,
        fact(
            opportunities.OpportunityPublished,
            opportunity_id=opportunity_id,
            partner_id=partner_id,
            envelope="100000000.00",
            activity_kinds=["drainage"],
        ),
    )
    await publish(
        bootstrap,
        fact(
            matching.MatchProposed,
            match_id=match_id,
            activity_id=activity_id,
            plan_id=plan.id,
            bkm_id=bkm_id,
            opportunity_id=opportunity_id,
            partner_id=partner_id,
        ),
    )
    await eventually(lambda: app.find(KnownMatch, match_id) is not None)
    await eventually(lambda: app.find(KnownOpportunity, opportunity_id) is not None)

    # Over HTTP: the BKM proposes from the match, the partner accepts and draws, both sign.
    officer_h = _bearer(issuer, Role.partner_officer, org=partner_id)
    operator_h = _bearer(issuer, Role.bkm_operator, org=bkm_id)
    async with asgi_client(partnerships_api, "partnerships") as http:
        proposal = await http.post(
            "/proposals",
            json={
                "match_id": str(match_id),
                "amount_requested": "100000000.00",
                "swadaya_amount": "15000000.00",
                "work_plan": "Normalisasi saluran",
            },
            headers=operator_h,
        )
        assert proposal.status_code == 201, proposal.text
        proposal_id = proposal.json()["proposal_id"]
        assert (
            await http.post(f"/proposals/{proposal_id}/acceptance", headers=officer_h)
        ).is_success
        drawn = await http.post(
            f"/proposals/{proposal_id}/agreement",
            json={
                "amount": "100000000.00",
                "tranches": [{"amount": "100000000.00", "condition": "ditandatangani"}],
                "reporting_duty": "Laporan akhir",
                "start_date": "2027-02-01",
                "end_date": "2027-12-31",
                "document_sha256": SHA,
            },
            headers=officer_h,
        )
        assert drawn.status_code == 201, drawn.text
        agreement_id = uuid.UUID(drawn.json()["agreement_id"])
        for party, headers in (("partner", officer_h), ("bkm", operator_h)):
            signed = await http.post(
                f"/agreements/{agreement_id}/signatures/{party}", headers=headers
            )
            assert signed.status_code == 200, signed.text
        disbursed = await http.post(
            f"/agreements/{agreement_id}/tranches/1/disbursement",
            json={
                "amount": "100000000.00",
                "transfer_reference": "BRI-9",
                "disbursed_on": "2027-02-10",
            },
            headers=officer_h,
        )
        assert disbursed.status_code == 200, disbursed.text

    # Planning's reaction: the activity is funded, by this partner.
    def funded() -> bool:
        channelling = planner.get_plan(plan.id).channelling[activity_id]
        return channelling.status == "in_progress" and str(agreement_id) in channelling.agreements

    await eventually(funded)

    # Opportunities' reaction: its EnvelopeCommitted replaces partnerships' own reservation.
    assert app.known_opportunity(opportunity_id).available == 0
    await publish(
        bootstrap,
        fact(
            opportunities.EnvelopeCommitted,
            opportunity_id=opportunity_id,
            partner_id=partner_id,
            agreement_id=agreement_id,
            amount="100000000.00",
            envelope="100000000.00",
            committed="100000000.00",
            remaining="0.00",
        ),
        first_version=2,
    )
    await eventually(lambda: not app.known_opportunity(opportunity_id).reserved)
    assert app.known_opportunity(opportunity_id).available == 0

    # An agency reads the public events with only the JSON Schemas.
    keys = {proposal_id.encode(), str(agreement_id).encode()}
    last = partnerships.TrancheDisbursed.event_type().encode()
    records = await agency_reads(bootstrap, since, keys, last)
    seen = {dict(r.headers)["ce_type"].decode(): validated_with_schema_only(r) for r in records}
    assert set(seen) == {
        "salur.partnerships.ProposalSubmitted.v1",
        "salur.partnerships.ProposalAccepted.v1",
        "salur.partnerships.PartnerSigned.v1",
        "salur.partnerships.BkmSigned.v1",
        "salur.partnerships.AgreementSigned.v1",
        "salur.partnerships.TrancheDisbursed.v1",
    }
    commitment = seen["salur.partnerships.AgreementSigned.v1"]
    assert commitment["amount"] == "100000000.00"
    assert commitment["currency"] == "IDR"
    assert commitment["receiver_name"] == "BKM Sejahtera Bersama"
    assert commitment["partner_name"] == "PT Sinar Nusantara Tbk"
    assert commitment["provider_kind"] == "company_csr"
    assert commitment["activity_title"] == "Normalisasi saluran RW 05"
    assert (commitment["aspect"], commitment["region_code"]) == ("environment", REGION)
    assert seen["salur.partnerships.TrancheDisbursed.v1"]["destination_account"] == ACCOUNT
