"""The `salur` command.

Each command group lives in its own module and registers itself through a
`register(subcommands)` function listed in `_COMMAND_GROUPS`, or, for a group another
package ships (a service's operator tools), named under the entry-point group
`salur.commands` in that package's metadata. A command sets
`set_defaults(handler=fn, command_parser=subparser)`; the handler returns the exit code
(0 ok, 2 usage, via `command_parser.error`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from salur_kit import demo, devtokens
from salur_kit.clitools import events, status, trace

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
Handler = Callable[[argparse.Namespace, argparse.ArgumentParser], int]

_COMMAND_GROUPS: tuple[Register, ...] = (
    devtokens.register,
    demo.register,
    status.register,
    events.register,
    trace.register,
)
ENTRY_POINT_GROUP = "salur.commands"


def discovered_groups() -> tuple[Register, ...]:
    """The command groups installed packages declare, in name order."""
    points = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda point: point.name)
    return tuple(point.load() for point in points)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salur", description="Salur operator tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in (*_COMMAND_GROUPS, *discovered_groups()):
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    # Usage errors are reported by the subcommand's own parser, so its help is shown.
    return handler(args, getattr(args, "command_parser", parser))


if __name__ == "__main__":
    sys.exit(main())
