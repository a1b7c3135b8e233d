"""`salur demo`: play the channelling story against the running services."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TextIO

from salur_kit.demo import summary
from salur_kit.demo.api import Api, service_urls
from salur_kit.demo.story import ActFailedError, Outcome, Story
from salur_kit.demo.summary import Verify
from salur_kit.demo.waiting import Waiter
from salur_kit.devtokens import DEFAULT_DIR, DevIssuer, ensure_issuer


def run_demo(
    urls: Mapping[str, str],
    issuer: DevIssuer,
    *,
    out: TextIO,
    waiter: Waiter,
    verify: Verify | None,
    verify_arguments: Sequence[str] = (),
) -> Outcome:
    """The whole story and its closing figures; raises ActFailedError naming the act."""
    api = Api(urls, waiter)
    try:
        story = Story(api, issuer, out)

        def ledger() -> None:
            summary.audit_replay(story)
            summary.audit_verify(story, verify, verify_arguments)

        outcome = story.run(
            [
                (
                    "what each BKM and partner committed, disbursed, spent and returned",
                    lambda: summary.totals(story),
                ),
                ("the audit ledger replays the story and verifies", ledger),
            ]
        )
        summary.where_next(story, urls)
        return outcome
    finally:
        api.close()


def installed_audit_verify() -> Verify | None:
    """`salur audit …` when the audit package is installed (an entry-point command group)."""
    from salur_kit import cli

    points = entry_points(group=cli.ENTRY_POINT_GROUP)
    return cli.main if any(point.name == "audit" for point in points) else None


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "demo",
        help="play a channelling story end to end against the running services",
        description=(
            "A city with several BKMs, their plans, partners of different kinds and their "
            "opportunities, matches, proposals, agreements, tranches, reports, a completion, "
            "a termination and a held disbursement, played over the public HTTP APIs as "
            "each role with its own dev token; then the totals per BKM and partner and "
            "`salur audit verify`. Services are found at http://127.0.0.1:<port> from "
            "infra/services.txt (8001-8006 by default), or SALUR_<SERVICE>_URL. "
            "Exit status: 0 the story ran, 1 an act failed (named), 2 usage."
        ),
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds to wait for each asynchronous effect (default 120)",
    )
    parser.add_argument(
        "--issuer-dir",
        type=Path,
        default=DEFAULT_DIR,
        help=f"the dev token issuer's key directory the services trust (default {DEFAULT_DIR})",
    )
    parser.add_argument(
        "--services-file", type=Path, default=None, help="default infra/services.txt"
    )
    parser.set_defaults(handler=_command, command_parser=parser)


def _command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    urls = service_urls(services_file=args.services_file)
    try:
        run_demo(
            urls,
            ensure_issuer(args.issuer_dir),
            out=sys.stdout,
            waiter=Waiter(timeout_seconds=args.timeout),
            verify=installed_audit_verify(),
        )
    except ActFailedError as failure:
        print(f"\nsalur demo: {failure}", file=sys.stderr)
        return 1
    print("\nThe story ran to the end.")
    return 0
