"""The whole-platform bench's pure parts: the arrival schedule, the commit-to-visible
bookkeeping and its percentiles, the resident-memory reader and the README's table."""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path

import pytest

from benchmarks.memory import megabytes, resident_kib
from benchmarks.platform import markdown_table
from benchmarks.platform_vegeta import parse_results, schedule_lag
from benchmarks.report import Figure
from benchmarks.settings import from_environment
from benchmarks.visibility import EffectLedger, LatencySummary, arrival_schedule

pytestmark = pytest.mark.unit


def test_the_arrival_schedule_is_fixed_by_the_clock_at_the_rate() -> None:
    schedule = arrival_schedule(50.0, 2.0)

    assert len(schedule) == 100
    assert schedule[0] == 0.0
    assert schedule[1] == pytest.approx(0.02)
    assert schedule[-1] == pytest.approx(1.98)
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(schedule)}
    assert gaps == {0.02}


@pytest.mark.parametrize(("rate", "seconds"), [(0.0, 10.0), (50.0, 0.0), (-1.0, 5.0)])
def test_an_arrival_schedule_needs_a_positive_rate_and_duration(
    rate: float, seconds: float
) -> None:
    with pytest.raises(ValueError, match="positive"):
        arrival_schedule(rate, seconds)


def test_latency_runs_from_the_answer_to_the_first_sighting() -> None:
    ledger = EffectLedger()
    for command_id in ("a", "b"):
        ledger.send(command_id)
    ledger.commit("a", 10.0)
    ledger.commit("b", 10.5)
    ledger.see(["a"], 10.08)
    ledger.see(["a", "b"], 10.7)  # "a" again: only its first sighting counts

    assert sorted(ledger.latencies()) == pytest.approx([0.08, 0.2])
    assert ledger.unseen() == []


def test_only_committed_commands_are_polled_for() -> None:
    ledger = EffectLedger()
    for command_id in ("answered", "waiting", "refused", "visible"):
        ledger.send(command_id)
    ledger.commit("answered", 1.0)
    ledger.commit("visible", 1.0)
    ledger.fail("refused", "HTTP 422")
    ledger.see(["visible"], 1.1)

    assert ledger.unseen() == ["answered"]
    assert ledger.unanswered() == 1


def test_a_committed_effect_that_never_shows_counts_as_infinitely_slow() -> None:
    ledger = EffectLedger()
    for i in range(99):
        ledger.send(str(i))
        ledger.commit(str(i), 0.0)
        ledger.see([str(i)], (i + 1) / 1000)  # 1 ms .. 99 ms
    ledger.send("lost")
    ledger.commit("lost", 0.0)

    summary = LatencySummary.of(ledger)

    assert summary.count == 100
    assert summary.never_seen == 1
    assert summary.p50_ms == pytest.approx(50.0)
    assert summary.p95_ms == pytest.approx(95.0)
    assert summary.p99_ms == pytest.approx(99.0)
    assert math.isinf(summary.max_ms)


def test_a_failed_command_counts_as_infinitely_slow_and_is_counted_apart() -> None:
    ledger = EffectLedger()
    for i in range(3):
        ledger.send(str(i))
        ledger.commit(str(i), 0.0)
        ledger.see([str(i)], 0.010)
    ledger.send("refused")
    ledger.fail("refused", "HTTP 503")

    summary = LatencySummary.of(ledger)

    assert (summary.count, summary.failed, summary.never_seen) == (4, 1, 0)
    assert summary.p50_ms == pytest.approx(10.0)
    assert math.isinf(summary.p99_ms), "an overloaded platform cannot pass by refusing"


def test_no_commands_give_no_percentiles() -> None:
    summary = LatencySummary.of(EffectLedger())

    assert summary.count == 0
    assert math.isnan(summary.p99_ms)


def _status(root: Path, pid: int, text: str) -> None:
    (root / str(pid)).mkdir(parents=True)
    (root / str(pid) / "status").write_text(text)


def test_resident_memory_is_read_from_the_status_file(tmp_path: Path) -> None:
    _status(
        tmp_path,
        42,
        "Name:\tpython\nVmPeak:\t  900000 kB\nVmHWM:\t  160000 kB\nVmRSS:\t  146484 kB\n",
    )

    assert resident_kib(42, tmp_path) == 146484
    assert resident_kib(42, tmp_path, field="VmHWM") == 160000
    assert megabytes(146484) == pytest.approx(150.0, abs=0.01)


def test_a_status_without_resident_memory_is_an_error(tmp_path: Path) -> None:
    _status(tmp_path, 7, "Name:\tkthreadd\nState:\tS (sleeping)\n")

    with pytest.raises(ValueError, match="no VmRSS"):
        resident_kib(7, tmp_path)


def test_a_process_that_is_gone_has_no_resident_memory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        resident_kib(123456, tmp_path)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="Linux /proc only")
def test_this_process_has_some_resident_memory() -> None:
    assert 1_000 < resident_kib(os.getpid()) < 100_000_000


def test_the_readme_table_shows_value_ratio_target_and_verdict() -> None:
    figures = [
        Figure("audit idle resident memory", 136.4, "MB", target="<= 150 MB", passed=True),
        Figure(
            "commit -> visible in planning p99",
            math.inf,
            "ms",
            math.inf,
            "raw Postgres commit time",
            "<= 500 ms",
            False,
        ),
        Figure("platform commands, all services", 412.0, "cmd/s", 0.1234, "raw inserts/s"),
        Figure("open-loop commands failed", 3.0, "commands"),
    ]

    lines = markdown_table(figures).splitlines()

    assert lines[0] == "| figure | value | ratio to the raw baseline | target | verdict |"
    assert lines[2] == "| audit idle resident memory | 136 MB |  | <= 150 MB | PASS |"
    assert lines[3] == "| commit -> visible in planning p99 | ∞ |  | <= 500 ms | MISS |"
    assert lines[4] == (
        "| platform commands, all services | 412 cmd/s | 0.123x raw inserts/s |  |  |"
    )
    assert lines[5] == "| open-loop commands failed | 3 commands |  |  |  |"


def test_the_platform_step_runs_a_minute_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SALUR_BENCH_PLATFORM_SECONDS", raising=False)
    default = from_environment()
    monkeypatch.setenv("SALUR_BENCH_PLATFORM_SECONDS", "10")
    short = from_environment()

    assert (default.platform_latency_seconds, default.platform_closed_seconds) == (60.0, 30.0)
    assert (short.platform_latency_seconds, short.platform_closed_seconds) == (10.0, 5.0)
    assert default.platform_rate == 50.0


VEGETA_CSV = (
    "1795953507357315944,201,3289989,2,12,,eyJvayI6IHRydWV9,,0,POST,http://h/x,\n"
    "1795953507457331366,0,10000000000,2,0,timeout,,,1,POST,http://h/y,\n"
    "1795953507607759041,201,1039379,2,12,,eyJvayI6IHRydWV9,,2,POST,http://h/x,\n"
)


def test_vegeta_results_give_each_commands_send_and_answer_time_by_sequence() -> None:
    results = parse_results(VEGETA_CSV)

    assert [r.seq for r in results] == [0, 1, 2]
    assert [r.status for r in results] == [201, 0, 201]
    assert results[0].sent == pytest.approx(1795953507.357316)
    assert results[0].answered == pytest.approx(1795953507.357316 + 0.00329)
    assert results[1].error == "timeout"


def test_vegeta_schedule_lag_is_the_latest_send_against_the_fixed_rate() -> None:
    results = parse_results(VEGETA_CSV)

    # At 10/s the third command was due 0.2 s after the first; it went 0.2504 s after.
    assert schedule_lag(results, 10.0) == pytest.approx(0.0504, abs=1e-4)
    assert schedule_lag([], 10.0) == 0.0
