"""What a service built at start-up is left out of later garbage collections while it
serves (a full collection would otherwise walk all of it: a pause of about 100 ms), and
given back to the collector when it stops."""

from __future__ import annotations

import gc
from uuid import uuid4

import pytest
from fastapi import APIRouter
from salur_kit.devtokens import DevIssuer
from salur_kit.eventstore import ServiceApplication
from salur_kit.runtime import ServiceSpec
from salur_kit.testing.services import running_api_on_scratch_database

pytestmark = pytest.mark.integration


async def test_the_start_up_heap_is_frozen_while_serving_and_released_on_shutdown(
    postgres_admin_url: str, kafka_bootstrap_servers: str, dev_issuer: DevIssuer
) -> None:
    spec = ServiceSpec(
        name=f"heap{uuid4().hex[:6]}",
        version="0",
        application=ServiceApplication,
        router=APIRouter(),
        to_integration=lambda event: None,
        topic="salur.registry.events.v1",
    )
    assert gc.get_freeze_count() == 0
    async with running_api_on_scratch_database(
        spec,
        postgres_admin_url=postgres_admin_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        jwks_path=dev_issuer.jwks_path,
    ):
        assert gc.get_freeze_count() > 10_000, "the modules, the app and its clients"
    assert gc.get_freeze_count() == 0
