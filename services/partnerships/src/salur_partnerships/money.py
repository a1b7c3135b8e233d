"""Money rules shared by proposals and agreements: exact rupiah, schedules that add up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from salur_kit.errors import RuleViolationError

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
HUNDRED = Decimal(100)


class MoneyRuleError(RuleViolationError):
    """An amount that would break a money rule (schedule, disbursement, spending, return)."""


def require_positive(amount: Decimal, field: str) -> None:
    if amount <= 0:
        raise MoneyRuleError(f"{field} must be greater than zero", field=field, rule="positive")


@dataclass(frozen=True)
class PlannedTranche:
    """A tranche as the partner writes it: an amount or a percentage, and its condition."""

    condition: str
    amount: Decimal | None = None
    percent: Decimal | None = None


def schedule(amount: Decimal, planned: Sequence[PlannedTranche]) -> list[dict[str, object]]:
    """The tranche amounts, summing exactly to `amount`, or the rule the plan breaks.

    Percentages must add up to exactly 100; each tranche is rounded down to the sen and the
    last one takes the remainder, so rounding never creates or loses a rupiah.
    """
    if not planned:
        raise MoneyRuleError("an agreement needs at least one tranche", field="tranches")
    kinds = {p.amount is not None for p in planned} | {p.percent is None for p in planned}
    if kinds != {True} and kinds != {False}:
        raise MoneyRuleError(
            "give every tranche as an amount, or every tranche as a percentage, not both",
            field="tranches",
            rule="tranches-amounts-or-percentages",
        )
    if planned[0].amount is not None:
        amounts = [p.amount for p in planned if p.amount is not None]
        for index, each in enumerate(amounts):
            require_positive(each, f"tranches[{index}].amount")
        total = sum(amounts, ZERO)
        if total != amount:
            raise MoneyRuleError(
                f"the tranches sum to {total}, not to the agreed amount {amount}",
                field="tranches",
                rule="tranches-sum-to-amount",
            )
    else:
        percents = [p.percent for p in planned if p.percent is not None]
        if any(p <= 0 for p in percents) or sum(percents, Decimal(0)) != HUNDRED:
            raise MoneyRuleError(
                "tranche percentages must each be above zero and sum to exactly 100",
                field="tranches",
                rule="tranches-sum-to-amount",
            )
        amounts = [(amount * p / HUNDRED).quantize(CENT, rounding=ROUND_DOWN) for p in percents]
        amounts[-1] = amount - sum(amounts[:-1], ZERO)
        if any(a <= 0 for a in amounts):
            raise MoneyRuleError(
                "a tranche percentage is too small to be paid in sen", field="tranches"
            )
    return [
        {"number": n, "amount": a, "condition": p.condition}
        for n, (a, p) in enumerate(zip(amounts, planned, strict=True), start=1)
    ]
