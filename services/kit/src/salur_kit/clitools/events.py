"""`salur events tail`: follow Salur's public events as readable CloudEvents (the
reading itself is in `tailing`)."""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import os


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    events = commands.add_parser("events", help="read Salur's public events from Kafka")
    sub = events.add_subparsers(dest="events_command", required=True, metavar="COMMAND")
    tail = sub.add_parser(
        "tail",
        help="print CloudEvents as they arrive (pretty-printed)",
        description=(
            "Print each integration event on the event topics (every salur.<service>"
            ".events.v<N> by default) as a CloudEvent: type, subject, aggregate version, "
            "time, trace id and data. Reads without a consumer group. Stops on Ctrl-C, "
            "after --limit events, or after --idle-timeout seconds without one. "
            "Exit status: 0 ok, 1 Kafka unreachable, a topic missing, or --limit not "
            "reached before the idle timeout, 2 usage."
        ),
    )
    tail.add_argument("--topic", action="append", default=[], help="a topic to read (repeatable)")
    tail.add_argument(
        "--type",
        action="append",
        default=[],
        dest="types",
        help="only this event type, e.g. salur.partnerships.AgreementSigned.v1; "
        "shell patterns work: '*.AgreementSigned.*' (repeatable)",
    )
    tail.add_argument(
        "--from-beginning", action="store_true", help="start at each partition's first record"
    )
    tail.add_argument("--limit", type=int, default=None, help="stop after this many events")
    tail.add_argument(
        "--idle-timeout", type=float, default=None, help="stop after this many quiet seconds"
    )
    tail.add_argument(
        "--format",
        choices=("pretty", "json"),
        default="pretty",
        help="pretty (default) or one structured-mode CloudEvent JSON per line",
    )
    tail.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        help="Kafka (default $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)",
    )
    tail.set_defaults(handler=_tail_command, command_parser=tail)


def _tail_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.limit is not None and args.limit <= 0:
        parser.error("--limit must be positive")
    if args.idle_timeout is not None and args.idle_timeout <= 0:
        parser.error("--idle-timeout must be positive")
    # Imported only now: other commands (and --help) need neither Kafka nor the catalogue.
    from salur_contracts import CATALOGUE

    from salur_kit.clitools import tailing

    for pattern in args.types:
        if not fnmatch.filter(CATALOGUE, pattern):
            parser.error(f"--type {pattern!r} matches no event type in the catalogue")
    try:
        return asyncio.run(tailing.tail(args))
    except KeyboardInterrupt:
        return 0
