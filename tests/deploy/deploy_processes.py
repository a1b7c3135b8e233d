"""What the deploy tests that run real service processes share: the pod's stop timing as the
manifests set it, a BKM registration, and what planning has applied of them."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import yaml
from salur_kit.eventstore import postgres_env
from salur_planning.application import PlanningApplication

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_SOURCE = "/salur/registry"


def pod_timing(service: str) -> tuple[int, int]:
    """terminationGracePeriodSeconds and the preStop delay of the service's Deployment."""
    deployment = yaml.safe_load((ROOT / f"deploy/base/{service}/deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    return int(pod["terminationGracePeriodSeconds"]), int(pre_stop)


def register_bkm(client: httpx.Client, url: str, n: int) -> str:
    """Register BKM number `n` (a facilitator of 32.73 calls); its id."""
    response = client.post(
        f"{url}/bkms",
        json={
            "name": f"BKM Uji {n}",
            "region_code": f"32.73.03.{1000 + n:04d}",
            "address": "Jl. Dago 2",
            "legal_deed_number": f"AHU-{uuid.uuid4().hex[:12]}",
            "founded_on": "2013-04-05",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["bkm_id"])


def planning_applied(database_url: str, group: str, subjects: set[str]) -> int:
    """How many of these BKMs' registrations (version 1) planning's `group` has applied."""
    app = PlanningApplication(postgres_env(database_url))
    try:
        return sum(
            app.recorder.has_tracking_id(f"{group}:{REGISTRY_SOURCE}:{subject}", 1)
            for subject in subjects
        )
    finally:
        app.close()
