"""A service's own background loops (ServiceSpec.loops) run under the runtime's
supervision: built from the running service, restarted after an error, stopped on
shutdown."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from fastapi import APIRouter
from salur_kit.devtokens import DevIssuer
from salur_kit.eventstore import ServiceApplication
from salur_kit.runtime import Loop, LoopSpec, Running, ServiceSpec
from salur_kit.testing.services import running_api_on_scratch_database

pytestmark = pytest.mark.integration


class Ticks:
    def __init__(self) -> None:
        self.apps: list[ServiceApplication] = []
        self.runs = 0
        self.restarted = asyncio.Event()
        self.stopped = asyncio.Event()

    def make(self, running: Running) -> Loop:
        self.apps.append(running.app)

        async def run(stopping: asyncio.Event) -> None:
            self.runs += 1
            if self.runs == 1:
                raise RuntimeError("the first run fails; the runtime restarts the loop")
            self.restarted.set()
            await stopping.wait()
            self.stopped.set()

        return run


async def test_a_service_loop_is_supervised_and_stopped_with_the_service(
    postgres_admin_url: str, kafka_bootstrap_servers: str, dev_issuer: DevIssuer
) -> None:
    ticks = Ticks()
    spec = ServiceSpec(
        name=f"loops{uuid4().hex[:6]}",
        version="0",
        application=ServiceApplication,
        router=APIRouter(),
        to_integration=lambda event: None,
        topic="salur.registry.events.v1",
        loops=(LoopSpec(name="tick", make=ticks.make),),
    )
    async with running_api_on_scratch_database(
        spec,
        postgres_admin_url=postgres_admin_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        jwks_path=dev_issuer.jwks_path,
    ) as api:
        await asyncio.wait_for(ticks.restarted.wait(), timeout=10)
        assert ticks.runs == 2, "restarted once after its error"
        assert ticks.apps == [api.state.application]
        assert not ticks.stopped.is_set()
    assert ticks.stopped.is_set(), "shutdown stops the loop"
