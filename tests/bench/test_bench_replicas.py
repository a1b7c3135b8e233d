"""The registry bench's open loop over replicas: requests spread round robin, and the
latency target read on the replicas' run, with one process's run shown beside it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from benchmarks import figures, partnerships
from benchmarks.load import BkmCommands, LoadResult
from benchmarks.settings import from_environment
from benchmarks.vegeta import write_targets

pytestmark = pytest.mark.unit


def _result(latency_ms: float, requests: int = 100) -> LoadResult:
    return LoadResult(latencies=[latency_ms / 1000] * requests, elapsed=1.0)


def test_the_open_loop_sends_to_each_replica_in_turn(tmp_path: Path) -> None:
    path = tmp_path / "targets.jsonl"

    write_targets(["http://a:1", "http://b:2"], BkmCommands("token", "run"), 5, path)

    urls = [json.loads(line)["url"] for line in path.read_text().splitlines()]
    assert urls == [f"http://{host}/bkms" for host in ("a:1", "b:2", "a:1", "b:2", "a:1")]


def test_the_target_is_read_on_the_replicas_and_one_process_is_shown_beside_it() -> None:
    settings = from_environment()

    shown = figures.http(settings, 2000.0, _result(120.0), None, None, spread=_result(30.0))

    verdicts = {f.name: f.verdict for f in shown if "p99" in f.name}
    assert verdicts == {
        "open loop, one process latency p99": "",
        f"open loop, {settings.replicas} replicas latency p99": "PASS",
    }


def test_with_one_replica_the_single_run_carries_the_target() -> None:
    shown = figures.http(from_environment(), 2000.0, _result(120.0), None, None)

    assert {f.name: f.verdict for f in shown if "p99" in f.name} == {
        "open loop latency p99": "MISS"
    }


def test_partnerships_reads_the_disbursement_target_on_the_replicas() -> None:
    served = partnerships.Served(
        totals=[0.005] * 10,
        warm=LoadResult(),
        opened=_result(40.0),
        spread=_result(70.0),
        lag=0.1,
    )
    loaded = partnerships.Loaded(partner_id=uuid.uuid4(), rows=15_000, seconds=1.0)

    shown = partnerships.figures(2000.0, 20_000.0, loaded, [0.0003] * 10, served, replicas=2)

    assert {f.name: f.verdict for f in shown if "disbursement" in f.name and "p99" in f.name} == {
        "partnerships disbursement, one process latency p99": "",
        "partnerships disbursement, 2 replicas latency p99": "MISS",
    }


def test_partnerships_sends_each_disbursement_to_the_replicas_in_turn() -> None:
    agreements = [uuid.uuid4() for _ in range(3)]

    urls = [
        url for url, _, _ in partnerships.disbursements(["http://a", "http://b"], "t", agreements)
    ]

    assert urls == [
        f"http://{host}/agreements/{agreement}/tranches/1/disbursement"
        for host, agreement in zip(("a", "b", "a"), agreements, strict=True)
    ]


def test_the_relay_figure_is_the_median_of_its_drains_each_shown() -> None:
    shown = figures.baselines_and_relay(from_environment(), 2000.0, 20_000.0, [4_600, 7_300, 6_100])

    (relay,) = [f for f in shown if f.name == "relay drain"]
    assert relay.value == 6_100
    assert relay.verdict == "PASS"
    assert "median of 3 drains" in relay.note
    assert "(4,600, 7,300, 6,100/s)" in relay.note
