"""One JSON Schema file per event type, generated from the code and committed.

`python -m salur_contracts.schemas export` rewrites `contracts/schemas/`; `... check` exits
non-zero when the committed files differ from the code, so CI catches an unexported change.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from salur_contracts.base import CATALOGUE, IntegrationEvent
from salur_contracts.cloudevents import dataschema_for

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def public_events() -> list[type[IntegrationEvent]]:
    """Events of the published catalogue, sorted by type (test-only subclasses excluded)."""
    return [
        CATALOGUE[name]
        for name in sorted(CATALOGUE)
        if CATALOGUE[name].__module__.startswith("salur_contracts.")
    ]


def event_schema(event: type[IntegrationEvent]) -> dict[str, Any]:
    """The event's payload schema, as consumers see it (serialised form)."""
    schema = event.model_json_schema(mode="serialization")
    schema["$schema"] = DRAFT
    schema["$id"] = dataschema_for(event.event_type())
    schema["title"] = event.event_type()
    return schema


def render(schema: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, trailing newline, so diffs stay small."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def expected_files() -> dict[str, str]:
    """File name -> content for every event of the catalogue."""
    return {f"{event.event_type()}.json": render(event_schema(event)) for event in public_events()}


def differences(directory: Path = SCHEMA_DIR) -> list[str]:
    """How the files in `directory` differ from the code; empty when they agree."""
    expected = expected_files()
    present = {path.name for path in directory.glob("*.json")} if directory.is_dir() else set()
    problems = [f"missing {name}" for name in sorted(expected.keys() - present)]
    problems += [
        f"no event in the code for {name} (removing an event type is a breaking change)"
        for name in sorted(present - expected.keys())
    ]
    problems += [
        f"out of date {name}"
        for name in sorted(expected.keys() & present)
        if (directory / name).read_text(encoding="utf-8") != expected[name]
    ]
    return problems


def export(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in expected_files().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m salur_contracts.schemas")
    parser.add_argument("command", choices=["export", "check"])
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="schema directory")
    arguments = parser.parse_args(argv)
    if arguments.command == "export":
        for path in export(arguments.dir):
            print(path)
        return 0
    problems = differences(arguments.dir)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("run: python -m salur_contracts.schemas export", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
