"""Committed JSON Schemas match the code, and no committed version was ever broken."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from salur_contracts.compat import breaking_changes
from salur_contracts.schemas import SCHEMA_DIR, differences, event_schema, public_events

pytestmark = pytest.mark.unit

CONTRACTS_DIR = SCHEMA_DIR.parent
COMMITTED = sorted(SCHEMA_DIR.glob("*.json"))


def test_committed_schemas_equal_the_schemas_generated_from_the_code() -> None:
    problems = differences()
    assert problems == [], (
        "contracts/schemas differs from the code: "
        + "; ".join(problems)
        + ". Run `uv run python -m salur_contracts.schemas export` (and if a committed schema "
        "changes incompatibly, add a new .v2 event class instead of editing the old one)."
    )


def test_every_schema_declares_draft_2020_12_and_its_dataschema_uri() -> None:
    for event in public_events():
        schema = event_schema(event)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith(f"/{event.event_type()}.json")
        assert schema["title"] == event.event_type()
        assert schema["description"]


def _history(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every committed version of a schema file, newest first; the working copy when no git."""
    versions: list[tuple[str, dict[str, Any]]] = [
        ("working copy", json.loads(path.read_text(encoding="utf-8")))
    ]
    relative = f"./{path.relative_to(CONTRACTS_DIR).as_posix()}"
    try:
        revisions = subprocess.run(
            ["git", "log", "--format=%H", "--", relative],
            cwd=CONTRACTS_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for revision in revisions:
            shown = subprocess.run(
                ["git", "show", f"{revision}:{relative}"],
                cwd=CONTRACTS_DIR,
                capture_output=True,
                text=True,
                check=False,
            )
            if shown.returncode == 0:  # the commit that deleted the file has no version
                versions.append((revision[:12], json.loads(shown.stdout)))
    except (OSError, subprocess.CalledProcessError):
        pass  # no git or no repository: the working copy alone is still compared
    return versions


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_no_schema_ever_changed_incompatibly(path: Path) -> None:
    current = {f"{event.event_type()}.json": event for event in public_events()}
    assert path.name in current, (
        f"{path.name} is committed but no event class produces it: removing an event type "
        "breaks consumers; keep the class (deprecated) and add a new version beside it"
    )
    new = event_schema(current[path.name])
    for where, old in _history(path):
        problems = breaking_changes(old, new)
        assert problems == [], (
            f"{path.name} breaks the version at {where}: {problems}. A breaking change needs a "
            "new event class with `version = 2` (salur.<service>.<Name>.v2), never an edit in "
            "place; restore the v1 class."
        )


def test_check_command_exits_non_zero_listing_differences(tmp_path: Path) -> None:
    from salur_contracts.schemas import export, main

    export(tmp_path)
    assert main(["check", "--dir", str(tmp_path)]) == 0
    first = sorted(tmp_path.glob("*.json"))[0]
    first.write_text("{}\n", encoding="utf-8")
    (tmp_path / "salur.registry.Gone.v1.json").write_text("{}\n", encoding="utf-8")
    assert main(["check", "--dir", str(tmp_path)]) == 1
    assert differences(tmp_path) == [
        "no event in the code for salur.registry.Gone.v1.json (removing an event type is a "
        "breaking change)",
        f"out of date {first.name}",
    ]
