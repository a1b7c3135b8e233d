"""Starting the platform as processes (salur_kit.testing.platform): a service that cannot
start is named with its log's tail, and nothing is left behind."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from salur_kit.devtokens import ensure_issuer
from salur_kit.testing.platform import PlatformStartError, running_platform

pytestmark = pytest.mark.integration


def _databases(admin_url: str, prefix: str) -> list[str]:
    with psycopg.connect(admin_url) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{prefix}%"]
        ).fetchall()
    return [str(row[0]) for row in rows]


def test_a_service_that_exits_at_start_is_named_with_its_log_and_its_database_dropped(
    postgres_admin_url: str, kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    issuer = ensure_issuer(tmp_path / "issuer")
    prefix = "t_platformstart"

    with (
        pytest.raises(PlatformStartError, match=r"registry exited with \d+") as raised,
        running_platform(
            postgres_admin_url=postgres_admin_url,
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            jwks_path=issuer.jwks_path,
            logs=tmp_path / "logs",
            audit_signing_key=tmp_path / "audit.pem",
            audit_checkpoint_topic="unused",
            database_prefix=prefix,
            services=("registry",),
            extra_env={"registry": {"HTTP_PORT": "not-a-port"}},
        ),
    ):
        pytest.fail("the platform cannot be ready")

    assert "HTTP_PORT" in str(raised.value), "the log's tail says what was wrong"
    assert _databases(postgres_admin_url, prefix) == []
