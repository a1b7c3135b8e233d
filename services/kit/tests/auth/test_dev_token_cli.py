from __future__ import annotations

import stat
from pathlib import Path
from uuid import uuid4

import pytest
from salur_kit.auth import Role, TokenVerifier
from salur_kit.cli import main
from salur_kit.devtokens import DEV_AUDIENCE
from salur_kit.settings import DEV_ISSUER

pytestmark = pytest.mark.unit


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out.strip()


def test_dev_jwks_creates_the_keys_once_and_prints_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = run(capsys, "dev", "jwks", "--dir", str(tmp_path))
    assert Path(printed) == tmp_path / "jwks.json"
    private_key = tmp_path / "private-key.pem"
    assert stat.S_IMODE(private_key.stat().st_mode) == 0o600
    key_before = private_key.read_bytes()
    run(capsys, "dev", "jwks", "--dir", str(tmp_path))
    assert private_key.read_bytes() == key_before


async def test_a_dev_token_verifies_against_the_written_jwks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = uuid4()
    token = run(
        capsys,
        *("dev", "token", "--role", "partner_officer", "--org", str(org)),
        *("--sub", "officer-1", "--ttl", "60", "--dir", str(tmp_path)),
    )
    verifier = TokenVerifier(
        issuer=DEV_ISSUER, audience=DEV_AUDIENCE, jwks_path=tmp_path / "jwks.json"
    )
    principal = await verifier.verify(token)
    assert (principal.subject, principal.role, principal.organisation_id) == (
        "officer-1",
        Role.partner_officer,
        org,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["dev", "token", "--role", "bkm_operator"],
        ["dev", "token", "--role", "facilitator"],
        ["dev", "token", "--role", "facilitator", "--region", "32.7"],
        ["dev", "token", "--role", "admin"],
        ["dev", "token", "--role", "auditor", "--ttl", "0"],
        ["dev", "token", "--role", "bkm_operator", "--org", "nope"],
        ["dev"],
        [],
    ],
)
def test_a_wrong_combination_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--dir", str(tmp_path)] if len(argv) > 2 else argv)
    assert exited.value.code == 2
    assert not (tmp_path / "private-key.pem").exists()


def test_help_describes_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["dev", "token", "--help"])
    assert exited.value.code == 0
    assert "--region" in capsys.readouterr().out
