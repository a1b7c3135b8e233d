"""`salur demo`'s plumbing: where the services are, how it waits, how a refusal reads, and
that a failure stops the story at its act with the missing endpoint named. The story
itself runs against real services in tests/e2e/test_e2e_demo_story.py."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from salur_kit import cli
from salur_kit.auth.principal import Role
from salur_kit.demo.api import (
    Actor,
    Api,
    DemoError,
    EndpointMissingError,
    RefusedError,
    service_urls,
)
from salur_kit.demo.command import run_demo
from salur_kit.demo.story import ActFailedError
from salur_kit.demo.waiting import Waiter, WaitTimeoutError
from salur_kit.devtokens import DevIssuer

pytestmark = pytest.mark.unit

Handler = Callable[[httpx.Request], httpx.Response]


def _api(handler: Handler, timeout: float = 2.0) -> Api:
    waiter = Waiter(timeout_seconds=timeout, interval_seconds=0.01, stream=io.StringIO())
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return Api({"registry": "http://registry", "planning": "http://planning"}, waiter, None, client)


def _problem(status: int, detail: str, rule: str | None = None) -> httpx.Response:
    errors = [{"field": "x", "rule": rule, "message": detail}] if rule else []
    return httpx.Response(status, json={"status": status, "detail": detail, "errors": errors})


@pytest.fixture
def caller(dev_issuer: DevIssuer) -> Actor:
    return Actor.minted(dev_issuer, "an auditor", Role.auditor)


# -- where the services are ----------------------------------------------------------------


def test_ports_come_from_the_services_file_and_an_environment_url_wins(tmp_path: Path) -> None:
    listed = tmp_path / "services.txt"
    listed.write_text("# name port\nregistry 9101\nplanning 9102\n")
    urls = service_urls({"SALUR_PLANNING_URL": "http://planning.example:80/"}, listed)
    assert urls["registry"] == "http://127.0.0.1:9101"
    assert urls["planning"] == "http://planning.example:80"
    assert urls["audit"] == "http://127.0.0.1:8006", "unlisted services keep their usual port"


# -- waiting --------------------------------------------------------------------------------


def test_waiting_returns_the_first_answer_a_probe_gives() -> None:
    answers = iter([None, None, "seen"])
    waiter = Waiter(timeout_seconds=5, interval_seconds=0.01, stream=io.StringIO())
    assert waiter.until("an effect", lambda: next(answers)) == "seen"


def test_waiting_too_long_names_what_was_awaited_and_what_was_last_seen() -> None:
    waiter = Waiter(timeout_seconds=0.05, interval_seconds=0.01, stream=io.StringIO())

    def probe() -> None:
        waiter.note("2 of 4 agreements")

    with pytest.raises(WaitTimeoutError, match=r"the ledger .*last seen: 2 of 4 agreements"):
        waiter.until("the ledger", probe)


# -- commands and refusals --------------------------------------------------------------------


def test_every_command_carries_its_own_idempotency_key_and_the_callers_token(
    caller: Actor,
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"ok": True})

    api = _api(handler)
    api.command(caller, "POST", "registry", "/bkms", {"name": "BKM"})
    api.command(caller, "POST", "registry", "/bkms", {"name": "BKM"})
    keys = {r.headers["Idempotency-Key"] for r in seen}
    assert len(keys) == 2
    assert all(r.headers["Authorization"] == f"Bearer {caller.token}" for r in seen)
    assert json.loads(seen[0].content) == {"name": "BKM"}


def test_a_transport_failure_is_retried_with_the_same_key(caller: Actor) -> None:
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        if len(keys) == 1:
            return httpx.Response(503, text="starting")
        return httpx.Response(200, json={"ok": True})

    assert _api(handler).command(caller, "POST", "registry", "/bkms", {}) == {"ok": True}
    assert len(keys) == 2
    assert keys[0] == keys[1], "a retry must not act twice"


def test_a_command_refused_until_the_service_hears_of_its_subject_is_tried_again(
    caller: Actor,
) -> None:
    attempts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request.headers["Idempotency-Key"])
        if len(attempts) < 3:
            return _problem(422, "BKM x is not known to planning", "bkm-registered")
        return httpx.Response(201, json={"plan_id": "p"})

    answer = _api(handler).command(
        caller, "POST", "planning", "/plans", {}, until_known={"bkm-registered"}
    )
    assert answer == {"plan_id": "p"}
    assert len(set(attempts)) == 3, "each attempt is a new command: the refused ones did nothing"


def test_a_stale_version_from_the_services_own_consumer_is_tried_again(caller: Actor) -> None:
    answers = iter(
        [
            _problem(409, "the resource was changed meanwhile", "optimistic-concurrency"),
            httpx.Response(200, json={"status": "endorsed"}),
        ]
    )
    api = _api(lambda request: next(answers))
    assert api.command(caller, "POST", "planning", "/plans/p/endorsement", {}) == {
        "status": "endorsed"
    }


def test_any_other_refusal_stops_at_once_with_its_rule(caller: Actor) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _problem(422, "the plan is not a draft", "plan-draft")

    with pytest.raises(RefusedError) as refused:
        _api(handler).command(
            caller, "POST", "planning", "/plans", {}, until_known={"bkm-registered"}
        )
    assert refused.value.rule == "plan-draft"
    assert "planning POST /plans answered 422 [plan-draft]" in str(refused.value)


def test_an_expected_refusal_is_awaited_through_the_state_before_it(caller: Actor) -> None:
    answers = iter(
        [
            _problem(422, "destination differs", "destination-verified-account"),
            _problem(422, "the account awaits confirmation", "bank-account-confirmed"),
        ]
    )
    refused = _api(lambda request: next(answers)).refusal(
        caller,
        "POST",
        "registry",
        "/pay",
        {},
        rule="bank-account-confirmed",
        meanwhile={"destination-verified-account"},
    )
    assert refused.detail == "the account awaits confirmation"


def test_an_expected_refusal_that_is_accepted_instead_fails_the_act(caller: Actor) -> None:
    api = _api(lambda request: httpx.Response(200, json={}))
    with pytest.raises(DemoError, match="was accepted; the story expected"):
        api.refusal(caller, "POST", "registry", "/pay", {}, rule="bank-account-confirmed")


def test_a_route_the_service_does_not_have_is_named_as_missing(caller: Actor) -> None:
    api = _api(lambda request: _problem(404, "Not Found"))
    with pytest.raises(EndpointMissingError, match=r"registry POST /bkms: .*no such endpoint"):
        api.command(caller, "POST", "registry", "/bkms", {})


# -- the story --------------------------------------------------------------------------------


def test_the_story_stops_at_the_first_act_that_fails_and_names_it(
    dev_issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _problem(404, "Not Found")

    out = io.StringIO()
    waiter = Waiter(timeout_seconds=1, interval_seconds=0.01, stream=io.StringIO())
    urls = {name: f"http://{name}" for name in ("registry", "planning", "audit")}
    transport = httpx.MockTransport(handler)
    monkeypatch.setattr(
        "salur_kit.demo.command.Api",
        lambda urls, waiter: Api(urls, waiter, None, httpx.Client(transport=transport)),
    )
    with pytest.raises(ActFailedError) as failed:
        run_demo(urls, dev_issuer, out=out, waiter=waiter, verify=None)
    assert failed.value.number == 1
    assert "act 1 (BKMs of Kota Bandung registered" in str(failed.value)
    assert "registry POST /bkms: the service has no such endpoint" in str(failed.value)


def test_salur_demo_is_a_command_of_the_salur_cli() -> None:
    assert "demo" in cli.build_parser().format_help()
