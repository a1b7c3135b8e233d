"""`salur status` against a service running as a real process (and one that is not)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from salur_kit import cli
from salur_kit.devtokens import DevIssuer
from salur_kit.testing.callers import Callers
from salur_kit.testing.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture
def registry_port(
    fresh_database_url: str, kafka_bootstrap_servers: str, dev_issuer: DevIssuer, tmp_path: Path
) -> Iterator[int]:
    port = free_port()
    env = os.environ | {
        "SALUR_SERVICE": "registry",
        "SALUR_ENV": "development",
        "HTTP_PORT": str(port),
        "DATABASE_URL": fresh_database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "SALUR_JWKS_PATH": str(dev_issuer.jwks_path),
        "SALUR_TRACES_DIR": str(tmp_path / "traces"),
    }
    log_path = tmp_path / "registry.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "salur_registry"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert process.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            else:
                pytest.fail("registry never became ready:\n" + log_path.read_text())
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def status(capsys: pytest.CaptureFixture[str], services_file: Path) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = cli.main(["status", "--services-file", str(services_file)])
    return code, capsys.readouterr().out.splitlines()


def row(lines: list[str], name: str) -> list[str]:
    [line] = [line for line in lines if line.startswith(f"{name} ")]
    return line.split()


def test_status_shows_health_events_and_relay_lag_and_fails_when_a_service_is_down(
    registry_port: int, callers: Callers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    both = tmp_path / "services.txt"
    both.write_text(f"# name port\nregistry {registry_port}\nplanning {free_port()}\n")
    code, lines = status(capsys, both)
    assert code == 1
    assert row(lines, "registry")[2:6] == ["ready", "0", "0", "-"]
    assert 20 < int(row(lines, "registry")[6]) < 1000, "resident memory in MiB"
    assert row(lines, "planning")[2:] == ["down", "-", "-", "-", "-", "not", "listening"]
    assert lines[-1] == "unhealthy: planning is down"

    response = httpx.post(
        f"http://127.0.0.1:{registry_port}/bkms",
        headers=callers.facilitator(),
        json={
            "name": "BKM Status",
            "region_code": "32.73.01.1001",
            "address": "Jl. Dago 5",
            "legal_deed_number": "AHU-80",
            "founded_on": "2010-01-01",
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    only_registry = tmp_path / "registry-only.txt"
    only_registry.write_text(f"registry {registry_port}\n")
    for _ in range(50):  # the relay publishes in the background
        code, lines = status(capsys, only_registry)
        if row(lines, "registry")[4] == "0":
            break
        time.sleep(0.2)
    assert code == 0
    assert row(lines, "registry")[2:5] == ["ready", "1", "0"]
