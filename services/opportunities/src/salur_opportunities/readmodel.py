"""Opportunities' query side: published opportunities in an indexed Postgres table, so
"what is open for this region, aspect and kind" never replays aggregates.

Region eligibility is stored as one row per eligible prefix of an open opportunity. A
region code's own prefixes are few (`32`, `32.73`, `32.73.01`, `32.73.01.1001`), so "which
opportunities cover this kelurahan" is an equality lookup of at most four keys in a B-tree,
not a LIKE over every opportunity's prefixes. The region rows repeat what the list filters
on (aspects, kinds, amounts, what remains), so a region query picks its page from the index
alone and reads only that page's opportunities, instead of walking every open opportunity
in order and probing its regions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from salur_opportunities.domain import Terms

_OPEN = "status = 'open'"

DDL = (
    "CREATE TABLE IF NOT EXISTS opportunity ("
    " seq bigserial UNIQUE, opportunity_id uuid PRIMARY KEY, partner_id uuid NOT NULL,"
    " partner_name text NOT NULL, status text NOT NULL, revision integer NOT NULL,"
    " title text NOT NULL, source_kind text NOT NULL, aspects text[] NOT NULL,"
    " activity_kinds text[] NOT NULL, eligible_regions text[] NOT NULL,"
    " min_amount numeric(20, 2) NOT NULL, max_amount numeric(20, 2) NOT NULL,"
    " envelope numeric(20, 2) NOT NULL, committed numeric(20, 2) NOT NULL DEFAULT 0,"
    " remaining numeric(20, 2) NOT NULL, required_swadaya_percent numeric(5, 2) NOT NULL,"
    " open_date date NOT NULL, close_date date NOT NULL)",
    # Rows exist only while the opportunity is open: the region index holds nothing else.
    "CREATE TABLE IF NOT EXISTS opportunity_open_region ("
    " prefix text NOT NULL, seq bigint NOT NULL, opportunity_id uuid NOT NULL,"
    " aspects text[] NOT NULL, activity_kinds text[] NOT NULL,"
    " min_amount numeric(20, 2) NOT NULL, max_amount numeric(20, 2) NOT NULL,"
    " remaining numeric(20, 2) NOT NULL,"
    # Covering: the page is chosen from the index alone once autovacuum marked pages visible.
    " PRIMARY KEY (prefix, seq)"
    " INCLUDE (aspects, activity_kinds, min_amount, max_amount, remaining))",
    "CREATE INDEX IF NOT EXISTS opportunity_open_region_by_opportunity"
    " ON opportunity_open_region (opportunity_id)",
    f"CREATE INDEX IF NOT EXISTS opportunity_open ON opportunity (seq) WHERE {_OPEN}",
    "CREATE INDEX IF NOT EXISTS opportunity_open_aspects ON opportunity USING gin (aspects)"
    f" WHERE {_OPEN}",
    "CREATE INDEX IF NOT EXISTS opportunity_open_kinds ON opportunity USING gin"
    f" (activity_kinds) WHERE {_OPEN}",
    # The scheduled close asks which open opportunities are past their close date.
    f"CREATE INDEX IF NOT EXISTS opportunity_open_due ON opportunity (close_date) WHERE {_OPEN}",
)

# One listed opportunity as JSON, money as two-decimal strings (never JSON numbers).
_ITEM = (
    "json_build_object('opportunity_id', opportunity_id, 'partner_id', partner_id,"
    " 'partner_name', partner_name, 'revision', revision, 'title', title,"
    " 'source_kind', source_kind, 'aspects', aspects, 'activity_kinds', activity_kinds,"
    " 'eligible_regions', eligible_regions, 'min_amount', min_amount::text,"
    " 'max_amount', max_amount::text, 'envelope', envelope::text,"
    " 'committed', committed::text, 'remaining', remaining::text,"
    " 'required_swadaya_percent', required_swadaya_percent::text,"
    " 'open_date', open_date, 'close_date', close_date)"
)


# What region rows repeat from their opportunity's row.
_REPEATED = "seq, opportunity_id, aspects, activity_kinds, min_amount, max_amount, remaining"


def region_prefixes(region: str) -> list[str]:
    """A region code's own prefixes, whole segments only: `32.73.01` -> 32, 32.73, 32.73.01."""
    parts = region.split(".")
    return [".".join(parts[: n + 1]) for n in range(len(parts))]


def _described(event: Any) -> dict[str, Any]:
    terms = Terms.from_state(event.terms)
    return {
        "id": event.originator_id,
        "partner_id": event.partner_id,
        "partner_name": event.partner_name,
        "revision": event.revision,
        "title": terms.title,
        "source_kind": terms.source_kind,
        "aspects": list(terms.aspects),
        "activity_kinds": list(terms.activity_kinds),
        "eligible_regions": list(terms.eligible_regions),
        "min_amount": terms.min_amount,
        "max_amount": terms.max_amount,
        "envelope": terms.envelope,
        "percent": terms.required_swadaya_percent,
        "open_date": terms.open_date,
        "close_date": terms.close_date,
    }


async def _set_regions(
    conn: psycopg.AsyncConnection[Any], opportunity_id: UUID, is_open: bool
) -> None:
    """Rewrite an opportunity's region rows from its row: one per prefix while it is open."""
    await conn.execute(
        "DELETE FROM opportunity_open_region WHERE opportunity_id = %s", (opportunity_id,)
    )
    if is_open:
        await conn.execute(
            f"INSERT INTO opportunity_open_region (prefix, {_REPEATED})"
            f" SELECT unnest(eligible_regions), {_REPEATED} FROM opportunity"
            " WHERE opportunity_id = %s",
            (opportunity_id,),
        )


class OpenOpportunities:
    """Projection of published opportunities and their envelopes (see `salur_kit.projection`)."""

    name: str = "opportunities-open"
    ddl: Sequence[str] = DDL
    aggregates: Sequence[str] = ("Opportunity",)

    async def apply(self, conn: psycopg.AsyncConnection[Any], event: Any) -> None:
        kind = type(event).__qualname__
        if kind == "Opportunity.Published":
            row = _described(event)
            await conn.execute(
                "INSERT INTO opportunity (opportunity_id, partner_id, partner_name, status,"
                " revision, title, source_kind, aspects, activity_kinds, eligible_regions,"
                " min_amount, max_amount, envelope, remaining, required_swadaya_percent,"
                " open_date, close_date) VALUES (%(id)s, %(partner_id)s, %(partner_name)s,"
                " 'open', %(revision)s, %(title)s, %(source_kind)s, %(aspects)s,"
                " %(activity_kinds)s, %(eligible_regions)s, %(min_amount)s, %(max_amount)s,"
                " %(envelope)s, %(envelope)s, %(percent)s, %(open_date)s, %(close_date)s)"
                " ON CONFLICT (opportunity_id) DO NOTHING",
                row,
            )
            await _set_regions(conn, row["id"], is_open=True)
        elif kind == "Opportunity.Revised":
            row = _described(event)
            await conn.execute(
                "UPDATE opportunity SET revision = %(revision)s, title = %(title)s,"
                " source_kind = %(source_kind)s, aspects = %(aspects)s,"
                " activity_kinds = %(activity_kinds)s, eligible_regions = %(eligible_regions)s,"
                " min_amount = %(min_amount)s, max_amount = %(max_amount)s,"
                " envelope = %(envelope)s, remaining = %(envelope)s - committed,"
                " required_swadaya_percent = %(percent)s, open_date = %(open_date)s,"
                " close_date = %(close_date)s WHERE opportunity_id = %(id)s",
                row,
            )
            await _set_regions(conn, row["id"], is_open=True)
        elif kind in ("Opportunity.Closed", "Opportunity.Cancelled"):
            status = "closed" if kind == "Opportunity.Closed" else "cancelled"
            await conn.execute(
                "UPDATE opportunity SET status = %s WHERE opportunity_id = %s",
                (status, event.originator_id),
            )
            await _set_regions(conn, event.originator_id, is_open=False)
        elif kind in ("Opportunity.EnvelopeCommitted", "Opportunity.EnvelopeReleased"):
            await conn.execute(
                "UPDATE opportunity SET committed = %s, remaining = %s WHERE opportunity_id = %s",
                (event.committed, event.remaining, event.originator_id),
            )
            await conn.execute(
                "UPDATE opportunity_open_region SET remaining = %s WHERE opportunity_id = %s",
                (event.remaining, event.originator_id),
            )


async def open_page(
    conn: psycopg.AsyncConnection[Any],
    *,
    region: str | None,
    aspect: str | None,
    kind: str | None,
    amount: Decimal | None,
    after: int,
    limit: int,
) -> str:
    """A page of open opportunities, oldest first and keyset-paginated by `seq`, as the JSON
    text of `{"items": [...], "next_after": seq | null}`.

    `region` (a code or a prefix) matches an opportunity when one of its eligible prefixes
    is a prefix of it; `amount` matches when it lies within the per-activity range and
    what remains of the envelope can still fund it. Postgres renders the JSON: the service
    passes the page through instead of parsing every value and serialising it again.
    """
    params: dict[str, Any] = {"after": after, "limit": limit}
    where = ["seq > %(after)s"]
    if aspect:
        where.append("aspects @> ARRAY[%(aspect)s]::text[]")
        params["aspect"] = aspect
    if kind:
        where.append("activity_kinds @> ARRAY[%(kind)s]::text[]")
        params["kind"] = kind
    if amount is not None:
        where.append("min_amount <= %(amount)s AND max_amount >= %(amount)s")
        where.append("remaining >= %(amount)s")
        params["amount"] = amount
    if region:
        # The page is chosen among the region index alone: for each of the region's few
        # prefixes, the first `limit` matching entries in order (a bounded index range
        # each, however many opportunities a province has), merged; materialised, so the
        # planner cannot turn it into a walk over every open opportunity. Then the
        # page's rows by key.
        params["prefixes"] = region_prefixes(region)
        page = (
            "WITH chosen AS MATERIALIZED (SELECT DISTINCT r.seq"
            " FROM unnest(%(prefixes)s::text[]) AS p (prefix) CROSS JOIN LATERAL"
            " (SELECT seq FROM opportunity_open_region WHERE prefix = p.prefix"
            f" AND {' AND '.join(where)} ORDER BY seq LIMIT %(limit)s) AS r"
            " ORDER BY r.seq LIMIT %(limit)s)"
            " SELECT opportunity.* FROM chosen JOIN opportunity USING (seq)"
        )
    else:
        page = (
            f"SELECT * FROM opportunity WHERE {_OPEN} AND {' AND '.join(where)}"
            " ORDER BY seq LIMIT %(limit)s"
        )
    cur = await conn.execute(
        "SELECT json_build_object("
        f"'items', coalesce(json_agg({_ITEM} ORDER BY seq), '[]'),"
        " 'next_after', CASE WHEN count(*) = %(limit)s THEN max(seq) END)::text"
        f" FROM ({page}) AS page",
        params,
    )
    row = await cur.fetchone()
    assert row is not None, "an aggregate always returns one row"
    text: str = row[0]
    return text


async def due_to_close(conn: psycopg.AsyncConnection[Any], today: dt.date) -> list[UUID]:
    """Open opportunities whose close date is before `today`."""
    cur = await conn.execute(
        f"SELECT opportunity_id FROM opportunity WHERE {_OPEN} AND close_date < %s"
        " ORDER BY close_date",
        (today,),
    )
    return [row[0] for row in await cur.fetchall()]
