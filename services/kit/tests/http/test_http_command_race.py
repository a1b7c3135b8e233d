"""A command sent without If-Match that loses a race to another writer runs again from a
fresh load; with If-Match, or when the race keeps being lost, the caller gets the 409."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

import httpx
import pytest
from eventsourcing.domain import Aggregate, event
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from salur_kit.errors import ConflictError
from salur_kit.eventstore import ServiceApplication
from salur_kit.http import CommandRoute, expected_version
from salur_kit.http.commands import RACE_ATTEMPTS

pytestmark = pytest.mark.unit


class Tally(Aggregate):
    @event("Opened")
    def __init__(self) -> None:
        self.count = 0

    @event("Counted")
    def count_one(self, by: str) -> None:
        self.count += 1


class Tallies(ServiceApplication):
    def __init__(self) -> None:
        super().__init__()
        self.interfere = 0
        self.closed = False
        self.runs = 0

    def count(self, tally_id: UUID, by: str, expected: int | None) -> Tally:
        self.runs += 1
        tally = self.load(Tally, tally_id, "tally")
        self.check_version(tally, expected)
        if self.closed:
            raise ConflictError("the tally is closed", rule="tally-closed")
        if self.interfere:
            # Another writer (a consumer, say) saves the same tally between load and save.
            self.interfere -= 1
            other = self.load(Tally, tally_id, "tally")
            other.count_one(by="consumer")
            self.save(other)
        tally.count_one(by=by)
        self.save_or_conflict(tally)
        return tally


@dataclass
class World:
    app: Tallies
    tally_id: UUID
    http: httpx.AsyncClient


@pytest.fixture
async def world() -> AsyncIterator[World]:
    tallies = Tallies()
    tally = Tally()
    tallies.save(tally)
    router = APIRouter(route_class=CommandRoute)

    @router.post("/tallies/{tally_id}/count")
    def count(
        tally_id: UUID, expected: Annotated[int | None, Depends(expected_version)]
    ) -> dict[str, int]:
        return {"version": tallies.count(tally_id, "caller", expected).version}

    api = FastAPI()
    api.include_router(router)

    @api.exception_handler(ConflictError)
    async def conflict(_: Request, error: ConflictError) -> JSONResponse:
        return JSONResponse({"rule": error.rule, "detail": error.detail}, status_code=409)

    transport = httpx.ASGITransport(api)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield World(tallies, tally.id, http)


async def test_without_if_match_a_lost_race_is_run_again_and_both_writes_count(
    world: World,
) -> None:
    world.app.interfere = 1

    response = await world.http.post(f"/tallies/{world.tally_id}/count")

    assert response.status_code == 200, response.text
    tally: Tally = world.app.repository.get(world.tally_id)
    assert tally.count == 2, "the other writer's count and the caller's, each once"
    assert response.json() == {"version": tally.version}
    assert world.app.runs == 2


async def test_with_if_match_a_lost_race_is_a_409_and_saves_nothing_of_the_caller(
    world: World,
) -> None:
    world.app.interfere = 1

    response = await world.http.post(
        f"/tallies/{world.tally_id}/count", headers={"If-Match": '"1"'}
    )

    assert response.status_code == 409
    assert response.json()["rule"] == "optimistic-concurrency"
    assert world.app.repository.get(world.tally_id).count == 1, "only the other writer's"
    assert world.app.runs == 1


async def test_a_race_lost_every_time_ends_in_a_409_after_a_bounded_number_of_tries(
    world: World,
) -> None:
    world.app.interfere = 1_000

    response = await world.http.post(f"/tallies/{world.tally_id}/count")

    assert response.status_code == 409
    assert world.app.runs == RACE_ATTEMPTS
    assert world.app.repository.get(world.tally_id).count == RACE_ATTEMPTS


async def test_other_conflicts_are_not_retried(world: World) -> None:
    world.app.closed = True

    response = await world.http.post(f"/tallies/{world.tally_id}/count")

    assert response.status_code == 409
    assert response.json()["rule"] == "tally-closed"
    assert world.app.runs == 1
