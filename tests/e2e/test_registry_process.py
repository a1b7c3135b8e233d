"""The registry as a real process: starts, serves, publishes, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from salur_kit.auth import Role
from salur_kit.devtokens import DevIssuer, ensure_issuer
from salur_kit.testing.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture
def issuer(tmp_path: Path) -> DevIssuer:
    return ensure_issuer(tmp_path / "issuer")


@pytest.fixture
def registry_process(
    fresh_database_url: str, kafka_bootstrap_servers: str, issuer: DevIssuer, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = os.environ | {
        "SALUR_SERVICE": "registry",
        "SALUR_ENV": "development",
        "HTTP_PORT": str(port),
        "DATABASE_URL": fresh_database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "SALUR_JWKS_PATH": str(issuer.jwks_path),
    }
    log = (tmp_path / "registry.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "salur_registry"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "registry.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("registry never became ready:\n" + (tmp_path / "registry.log").read_text())
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        log.close()


def test_the_registry_serves_and_relays_then_stops_cleanly_on_sigterm(
    registry_process: tuple[subprocess.Popen[bytes], str],
    issuer: DevIssuer,
    fresh_database_url: str,
    tmp_path: Path,
) -> None:
    database_url = fresh_database_url
    log_path = tmp_path / "registry.log"
    process, url = registry_process
    token = issuer.token(role=Role.facilitator, subject="fac", region="32.73")
    response = httpx.post(
        f"{url}/bkms",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "name": "BKM Proses",
            "region_code": "32.73.01.1001",
            "address": "Jl. Dago 1",
            "legal_deed_number": "AHU-9",
            "founded_on": "2011-02-03",
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert httpx.get(f"{url}/openapi.json", timeout=5).json()["info"]["title"] == "Salur registry"

    relayed = 0
    for _ in range(100):  # the relay records its position only after Kafka acknowledged
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT position FROM follower_positions WHERE name = 'relay'")
            relayed = (row.fetchone() or (0,))[0]
        if relayed == 1:
            break
        time.sleep(0.1)
    assert relayed == 1, "the registered BKM's event was published"

    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells why.
    assert process.wait(timeout=25) in (0, -signal.SIGTERM)
    log = log_path.read_text()
    assert "Application shutdown complete" in log
    assert "background loop failed" not in log, "relay and projections stop cleanly too"
