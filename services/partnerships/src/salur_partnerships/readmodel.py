"""Partnerships' query side: money totals per agreement, BKM, partner and opportunity,
projected into Postgres.

Each agreement event adds its change to four rows (the agreement and its three parties),
keyed by (party, id); a party's totals are then one primary-key lookup however many
agreements it has, so a partner with 10,000 partnerships costs what a partner with one does.
The runner applies every event exactly once, in the transaction that records its position,
which is what makes adding deltas safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

ZERO = Decimal("0.00")
PARTIES = ("agreement", "bkm", "partner", "opportunity")

DDL = (
    "CREATE TABLE IF NOT EXISTS partnerships_totals ("
    " party text NOT NULL, party_id uuid NOT NULL, agreements integer NOT NULL DEFAULT 0,"
    " committed numeric(20, 2) NOT NULL DEFAULT 0, disbursed numeric(20, 2) NOT NULL DEFAULT 0,"
    " spent numeric(20, 2) NOT NULL DEFAULT 0, returned numeric(20, 2) NOT NULL DEFAULT 0,"
    " PRIMARY KEY (party, party_id))",
)

_ADD = (
    "INSERT INTO partnerships_totals AS t"
    " (party, party_id, agreements, committed, disbursed, spent, returned)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (party, party_id) DO UPDATE SET"
    " agreements = t.agreements + excluded.agreements,"
    " committed = t.committed + excluded.committed,"
    " disbursed = t.disbursed + excluded.disbursed,"
    " spent = t.spent + excluded.spent, returned = t.returned + excluded.returned"
)


def _change(kind: str, event: Any) -> tuple[int, Decimal, Decimal, Decimal, Decimal] | None:
    """(agreements, committed, disbursed, spent, returned) an agreement event adds.

    Only agreements in force count; a terminated one keeps committed only what the BKM
    kept (disbursed minus returned), as planning counts it.
    """
    if kind == "Agreement.InForce":
        return 1, event.amount, ZERO, ZERO, ZERO
    if kind == "Agreement.TrancheDisbursed":
        return 0, ZERO, event.amount, ZERO, ZERO
    if kind == "Agreement.RealisationAccepted":
        return 0, ZERO, ZERO, event.amount_spent, ZERO
    if kind == "Agreement.Terminated":
        kept = event.total_disbursed - event.returned_amount
        return 0, kept - event.amount, ZERO, ZERO, event.returned_amount
    return None


class PartnershipTotals:
    """Projection of money per party (see `salur_kit.projection`)."""

    name: str = "partnerships-totals"
    ddl: Sequence[str] = DDL
    aggregates: Sequence[str] = ("Agreement",)

    async def apply(self, conn: psycopg.AsyncConnection[Any], event: Any) -> None:
        change = _change(type(event).__qualname__, event)
        if change is None:
            return
        p = event.parties
        ids = (event.originator_id, p["bkm_id"], p["partner_id"], p["opportunity_id"])
        async with conn.cursor() as cur:
            await cur.executemany(
                _ADD, [(party, i, *change) for party, i in zip(PARTIES, ids, strict=True)]
            )


async def totals(conn: psycopg.AsyncConnection[Any], party: str, party_id: UUID) -> dict[str, Any]:
    """Agreements, committed, disbursed, spent (accepted) and returned of one party."""
    if party not in PARTIES:
        raise ValueError(f"no totals by {party!r}")
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT agreements, committed, disbursed, spent, returned FROM partnerships_totals"
        " WHERE party = %s AND party_id = %s",
        (party, party_id),
    )
    row = await cur.fetchone()
    if row is None:
        return {
            "agreements": 0,
            **dict.fromkeys(("committed", "disbursed", "spent", "returned"), ZERO),
        }
    return row
