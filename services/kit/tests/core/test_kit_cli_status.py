"""`salur status` reading: the services file, figures from /metrics, the table, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from salur_kit import cli
from salur_kit.clitools.status import (
    Service,
    ServiceStatus,
    exceeds,
    figures,
    read_services,
    render,
)
from salur_kit.metrics import parse

pytestmark = pytest.mark.unit

PLANNING_METRICS = """\
# TYPE salur_events_stored counter
salur_events_stored_total 42
salur_relay_lag_events 3
process_resident_memory_bytes 94371840
salur_dead_lettered_messages_total{group="planning"} 2
salur_consumer_lag_messages{group="planning",topic="salur.registry.events.v1"} 7
salur_consumer_lag_messages{group="planning",topic="salur.partnerships.events.v1"} 0
"""


def planning_status() -> ServiceStatus:
    status = ServiceStatus(Service("planning", 8002), "ready")
    figures(status, parse(PLANNING_METRICS))
    return status


def test_figures_come_from_the_services_metrics() -> None:
    status = planning_status()
    assert (status.events_stored, status.relay_lag, status.dead_lettered) == (42, 3, 2)
    assert status.memory_bytes == 90 * 2**20
    assert status.consumer_lags == {
        ("planning", "salur.registry.events.v1"): 7,
        ("planning", "salur.partnerships.events.v1"): 0,
    }


def test_the_table_lists_services_then_consumer_groups() -> None:
    down = ServiceStatus(Service("matching", 8004), "down", "not listening")
    lines = render([planning_status(), down])
    assert lines[0].split()[:3] == ["SERVICE", "PORT", "HEALTH"]
    assert lines[1].split() == ["planning", "8002", "ready", "42", "3", "2", "90"]
    assert lines[2].split() == [
        "matching",
        "8004",
        "down",
        "-",
        "-",
        "-",
        "-",
        "not",
        "listening",
    ]
    assert lines[4].split()[:2] == ["CONSUMER", "GROUP"]
    assert [line.split() for line in lines[5:]] == [
        ["planning", "planning", "salur.partnerships.events.v1", "0"],
        ["planning", "planning", "salur.registry.events.v1", "7"],
    ]


def test_unhealthy_means_not_ready_or_a_lag_above_the_chosen_limit() -> None:
    ready = planning_status()
    assert exceeds([ready], None) == []
    assert exceeds([ready], 7) == []
    assert exceeds([ready], 5) == ["group planning on salur.registry.events.v1 lags 7 > 5"]
    assert exceeds([ready], 2) == [
        "planning relay lag 3 > 2",
        "group planning on salur.registry.events.v1 lags 7 > 2",
    ]
    not_ready = ServiceStatus(Service("audit", 8006), "not ready", "kafka: failed")
    assert exceeds([not_ready], None) == ["audit is not ready"]


def test_the_services_file_skips_comments_and_names_a_malformed_line(tmp_path: Path) -> None:
    path = tmp_path / "services.txt"
    path.write_text("# name port\n\nregistry 8001\nplanning 8002 extra\n")
    assert read_services(path) == [Service("registry", 8001), Service("planning", 8002)]
    path.write_text("registry eighty\n")
    with pytest.raises(ValueError, match=r"services.txt:1: expected '<name> <port>'"):
        read_services(path)


def test_a_missing_services_file_or_bad_option_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as missing:
        cli.main(["status", "--services-file", str(tmp_path / "none.txt")])
    assert missing.value.code == 2
    assert "no services file at" in capsys.readouterr().err
    (tmp_path / "s.txt").write_text("registry 8001\n")
    with pytest.raises(SystemExit) as negative:
        cli.main(["status", "--services-file", str(tmp_path / "s.txt"), "--max-lag", "-1"])
    assert negative.value.code == 2
