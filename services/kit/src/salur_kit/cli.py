"""The `salur` command.

Each command group lives in its own module and registers itself through a
`register(subcommands)` function listed in `_COMMAND_GROUPS`. A command sets
`set_defaults(handler=fn, command_parser=subparser)`; the handler returns the exit code
(0 ok, 2 usage, via `command_parser.error`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from salur_kit import devtokens

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
Handler = Callable[[argparse.Namespace, argparse.ArgumentParser], int]

_COMMAND_GROUPS: tuple[Register, ...] = (devtokens.register,)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salur", description="Salur operator tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _COMMAND_GROUPS:
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
