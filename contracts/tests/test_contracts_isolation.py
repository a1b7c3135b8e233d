"""Other agencies import the catalogue without any of Salur's server dependencies."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

SERVER_PACKAGES = ["aiokafka", "psycopg", "fastapi", "eventsourcing", "faststream", "salur_kit"]


def test_importing_the_catalogue_pulls_in_no_server_package() -> None:
    script = (
        "import json, sys, salur_contracts, salur_contracts.cloudevents, salur_contracts.schemas, "
        "salur_contracts.asyncapi; print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout
    )
    leaked = [name for name in loaded if name.split(".")[0] in SERVER_PACKAGES]
    assert leaked == []
