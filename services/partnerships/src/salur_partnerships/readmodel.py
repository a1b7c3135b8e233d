"""Partnerships' query side: one row of money per agreement, projected into Postgres.

Totals per BKM, partner or opportunity are sums over covering indexes (index-only scans),
so a partner with 10,000 partnerships is answered from the index without touching the
table or replaying aggregates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

_MONEY = "committed, disbursed, spent, returned"

DDL = (
    "CREATE TABLE IF NOT EXISTS partnerships_agreement ("
    " agreement_id uuid PRIMARY KEY, proposal_id uuid NOT NULL, opportunity_id uuid NOT NULL,"
    " plan_id uuid NOT NULL, activity_id uuid NOT NULL, bkm_id uuid NOT NULL,"
    " partner_id uuid NOT NULL, status text NOT NULL,"
    " committed numeric(20, 2) NOT NULL DEFAULT 0, disbursed numeric(20, 2) NOT NULL DEFAULT 0,"
    " spent numeric(20, 2) NOT NULL DEFAULT 0, returned numeric(20, 2) NOT NULL DEFAULT 0)",
    *(
        f"CREATE INDEX IF NOT EXISTS partnerships_agreement_{party} ON partnerships_agreement"
        f" ({party}_id) INCLUDE ({_MONEY})"
        for party in ("bkm", "partner", "opportunity")
    ),
)

PARTIES = frozenset({"agreement", "bkm", "partner", "opportunity"})


class PartnershipTotals:
    """Projection of each agreement's money (see `salur_kit.projection`).

    Only agreements in force count: a draft commits nothing.
    """

    name: str = "partnerships-totals"
    ddl: Sequence[str] = DDL

    async def apply(self, conn: psycopg.AsyncConnection[Any], event: Any) -> None:
        kind = type(event).__qualname__
        agreement_id = event.originator_id
        if kind == "Agreement.InForce":
            p = event.parties
            await conn.execute(
                "INSERT INTO partnerships_agreement (agreement_id, proposal_id, opportunity_id,"
                " plan_id, activity_id, bkm_id, partner_id, status, committed)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, 'in_force', %s)"
                " ON CONFLICT (agreement_id) DO NOTHING",
                (
                    agreement_id,
                    p["proposal_id"],
                    p["opportunity_id"],
                    p["plan_id"],
                    p["activity_id"],
                    p["bkm_id"],
                    p["partner_id"],
                    event.amount,
                ),
            )
        elif kind == "Agreement.TrancheDisbursed":
            await conn.execute(
                "UPDATE partnerships_agreement SET disbursed = %s WHERE agreement_id = %s",
                (event.total_disbursed, agreement_id),
            )
        elif kind == "Agreement.RealisationAccepted":
            await conn.execute(
                "UPDATE partnerships_agreement SET spent = %s WHERE agreement_id = %s",
                (event.total_spent, agreement_id),
            )
        elif kind == "Agreement.Completed":
            await conn.execute(
                "UPDATE partnerships_agreement SET status = 'completed' WHERE agreement_id = %s",
                (agreement_id,),
            )
        elif kind == "Agreement.Terminated":
            # What stays committed is what the BKM kept: disbursed minus returned.
            await conn.execute(
                "UPDATE partnerships_agreement SET status = 'terminated', returned = %s,"
                " committed = disbursed - %s WHERE agreement_id = %s",
                (event.returned_amount, event.returned_amount, agreement_id),
            )


async def totals(conn: psycopg.AsyncConnection[Any], party: str, party_id: UUID) -> dict[str, Any]:
    """Committed, disbursed, spent and returned over the party's agreements in force or closed."""
    if party not in PARTIES:
        raise ValueError(f"no totals by {party!r}")
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT count(*) AS agreements, coalesce(sum(committed), 0) AS committed,"
        " coalesce(sum(disbursed), 0) AS disbursed, coalesce(sum(spent), 0) AS spent,"
        " coalesce(sum(returned), 0) AS returned"
        f" FROM partnerships_agreement WHERE {party}_id = %s",
        (party_id,),
    )
    row = await cur.fetchone()
    assert row is not None  # an aggregate query always returns one row
    return row
