"""The end of the story: what each BKM and partner committed, disbursed, spent and returned
(partnerships' totals), the same figures as the audit ledger replays them, the ledger's
verification, and where to look next."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from salur_kit.demo.api import DemoError, Json
from salur_kit.demo.story import Outcome, Story

FIGURES = ("committed", "disbursed", "spent", "returned")
# (party kind, cast key) -> committed, disbursed, spent, returned, as the story leaves them.
EXPECTED: dict[tuple[str, str], tuple[str, str, str, str]] = {
    ("bkm", "sejahtera"): ("120000000.00", "130000000.00", "120000000.00", "10000000.00"),
    ("bkm", "maju"): ("25000000.00", "25000000.00", "0.00", "0.00"),
    ("bkm", "harapan"): ("40000000.00", "20000000.00", "15000000.00", "0.00"),
    ("bkm", "tunas"): ("0.00", "0.00", "0.00", "0.00"),
    ("partner", "dinas"): ("100000000.00", "100000000.00", "100000000.00", "0.00"),
    ("partner", "csr"): ("45000000.00", "55000000.00", "20000000.00", "10000000.00"),
    ("partner", "bank"): ("40000000.00", "20000000.00", "15000000.00", "0.00"),
}
# Agreement key -> status in partnerships once the story has run.
EXPECTED_STATUS = {
    "drainage": "completed",
    "posyandu": "terminated",
    "beasiswa": "in_force",
    "usaha": "in_force",
}
# The replay's word for an agreement in force (both signed, not closed).
REPLAY_STATUS = {"in_force": "signed"}
REPLAY_OPEN = frozenset(REPLAY_STATUS.values())
DEV_AUDIT_KEY = Path(".data/audit/signing-key.pem")

Verify = Callable[[Sequence[str]], int]


def parties(outcome: Outcome) -> list[tuple[str, str, str, UUID]]:
    """(kind, key, name, id) of every BKM and partner in the story."""
    found = [("bkm", k, b.cast.name, b.id) for k, b in outcome.bkms.items()]
    found += [("partner", k, p.cast.name, p.id) for k, p in outcome.partners.items()]
    return found


def _figures(row: Mapping[str, Any]) -> tuple[Decimal, ...]:
    return tuple(Decimal(str(row[name])) for name in FIGURES)


def _expected(kind: str, key: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in EXPECTED[(kind, key)])


def _rupiah(value: Decimal) -> str:
    return f"{value:,.0f}".replace(",", ".")


def totals(story: Story) -> None:
    """Partnerships' totals per BKM and partner, once its read model shows the whole story."""
    outcome, api = story.outcome, story.api
    for kind, key, _, party_id in parties(outcome):
        wanted = _expected(kind, key)

        def settled(
            kind: str = kind, party_id: UUID = party_id, wanted: Any = wanted
        ) -> Json | None:
            row: Json = api.get(story.auditor, "partnerships", f"/totals/{kind}/{party_id}")
            if _figures(row) == wanted:
                return row
            api.waiter.note(", ".join(f"{f} {row[f]}" for f in FIGURES))
            return None

        outcome.totals[f"{kind}:{key}"] = api.waiter.until(
            f"partnerships' totals of {key} to show the story", settled
        )
    width = max(len(name) for _, _, name, _ in parties(outcome))
    heading = " ".join(f"{f:>13}" for f in FIGURES)
    story.say(f"  {'(rupiah)':<8} {'':<{width}} {heading}")
    for kind, key, name, _ in parties(outcome):
        row = outcome.totals[f"{kind}:{key}"]
        cells = " ".join(f"{_rupiah(v):>13}" for v in _figures(row))
        story.say(f"  {kind:<8} {name:<{width}} {cells}")


def audit_replay(story: Story) -> None:
    """The ledger replays every agreement to the figures partnerships reports for it."""
    deals = [d for d in story.outcome.deals.values() if d.agreement_id is not None]
    expected: dict[str, tuple[str, tuple[Decimal, ...]]] = {}
    for deal in deals:
        shown = story.api.get(story.auditor, "partnerships", f"/agreements/{deal.agreement_id}")
        if shown["status"] != EXPECTED_STATUS[deal.key]:
            raise DemoError(
                f"agreement {deal.key} is {shown['status']}, not {EXPECTED_STATUS[deal.key]}"
            )
        committed = Decimal(shown["amount"])
        if shown["status"] == "terminated":  # what stayed with the BKM
            committed = Decimal(shown["disbursed"]) - Decimal(shown["returned"])
        figures = (committed, *(Decimal(shown[f]) for f in FIGURES[1:]))
        expected[str(deal.agreement_id)] = (
            REPLAY_STATUS.get(shown["status"], shown["status"]),
            figures,
        )

    names = {str(d.agreement_id): d.key for d in deals}

    def differences(agreement_id: str, replayed: Json) -> list[str]:
        _, figures = expected[agreement_id]
        return [
            f"{names[agreement_id]} {figure}: ledger {replayed[figure]}, partnerships {value}"
            for figure, value in zip(FIGURES, figures, strict=True)
            if Decimal(replayed[figure]) != value
        ]

    def sealed() -> Json | None:
        """The replay, once the ledger holds the story's events of every agreement. A
        closed agreement gets no more events, so its figures must agree at once."""
        report: Json = story.api.get(None, "audit", "/replay")
        agreements = report.get("agreements", {})
        pending, wrong = [], []
        for agreement_id, (status, _) in expected.items():
            replayed = agreements.get(agreement_id, {})
            differ = differences(agreement_id, replayed) if replayed else ["not yet"]
            if replayed.get("status") != status or (differ and status in REPLAY_OPEN):
                pending.extend(differ)
            elif differ:
                wrong.extend(differ)
        if wrong:
            raise DemoError("the ledger's replay and partnerships disagree: " + "; ".join(wrong))
        if not pending:
            return report
        story.api.waiter.note("; ".join(pending))
        return None

    replay = story.api.waiter.until("the audit ledger to hold the story", sealed)
    story.outcome.replay = replay
    story.say(
        f"  the ledger replays the {len(expected)} agreements to partnerships' figures "
        f"({replay.get('events')} money events in all, {len(replay.get('anomalies', []))} "
        "anomalies flagged)"
    )


def audit_verify(story: Story, verify: Verify | None, extra: Sequence[str] = ()) -> None:
    """`salur audit verify [extra]`, through the CLI the audit service installs."""
    if verify is None:
        raise DemoError("`salur audit verify` is not installed (the salur-audit package)")
    arguments = ["audit", "verify", *extra]
    key = Path(os.environ.get("SALUR_AUDIT_SIGNING_KEY", str(DEV_AUDIT_KEY)))
    if "--public-key" not in extra and not key.exists():
        # Without the key file (services elsewhere), trust the key the ledger announces.
        head = story.api.get(None, "audit", "/ledger")
        arguments += ["--public-key", head["public_key"]]
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            code = verify(arguments)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 2
    except Exception as error:  # the command's own failure, reported as this act's
        raise DemoError(f"salur audit verify failed: {error!r}") from error
    for line in printed.getvalue().splitlines():
        story.say(f"  {line}")
    if code != 0:
        raise DemoError(f"salur audit verify exited with {code}")


def where_next(story: Story, urls: Mapping[str, str]) -> None:
    story.say("\nWhere to look next:")
    for name, url in urls.items():
        story.say(f"  {name:<14} {url}/docs")
    story.say(
        "  salur status                                        health, relay and consumer lag\n"
        "  salur events tail --from-beginning --type '*.partnerships.*' --idle-timeout 3\n"
        "                                                      the public partnership events\n"
        f"  salur trace {story.outcome.trace_id}   opening the first activity, across services\n"
        "  salur audit replay                                  the ledger's totals, any time"
    )
