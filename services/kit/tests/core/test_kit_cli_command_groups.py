"""The `salur` command finds command groups other packages declare as entry points."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import EntryPoint
from types import ModuleType

import pytest
from salur_kit import cli


def _register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subcommands.add_parser("greet", help="a group from another package")
    group.add_argument("name")
    group.set_defaults(handler=lambda args, parser: 7 if args.name == "auditor" else 1)


def test_a_group_declared_under_salur_commands_becomes_a_subcommand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = ModuleType("salur_test_greeting")
    module.register = _register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    point = EntryPoint(name="greet", value=f"{module.__name__}:register", group="salur.commands")
    monkeypatch.setattr(
        cli, "entry_points", lambda group: [point] if group == "salur.commands" else []
    )
    assert cli.main(["greet", "auditor"]) == 7


def test_without_declared_groups_the_built_in_ones_remain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "entry_points", lambda group: [])
    with pytest.raises(SystemExit):
        cli.main(["greet", "auditor"])
    assert "dev" in cli.build_parser().format_help()
