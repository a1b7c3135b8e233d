"""Planning's query side: the activities of every plan's current version, projected into an
indexed Postgres table, so "which activities seek funding here" never replays aggregates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

from salur_planning.domain import Channelling

# Seeking funding: opened, not withdrawn, and partners have not yet committed it all.
_SEEKING = "outstanding > 0"

# A region prefix is whole segments of fixed width (PP, PP.KK, PP.KK.CC), so it is an
# equality on the code's first 2, 5 or 8 characters. Each level has an index in `seq`
# order: a page of one region is read in order, not filtered out of every activity.
_REGION_LEVELS = (2, 5, 8)
RANDOM_PAGE_COST = 1.1

DDL = (
    "CREATE TABLE IF NOT EXISTS planning_activity ("
    " seq bigserial UNIQUE, activity_id uuid PRIMARY KEY, plan_id uuid NOT NULL,"
    " bkm_id uuid NOT NULL, bkm_region_code text NOT NULL, plan_version integer NOT NULL,"
    " title text NOT NULL, aspect text NOT NULL, kind text NOT NULL,"
    " region_code text NOT NULL, planned_year integer NOT NULL, priority integer NOT NULL,"
    " estimated_cost numeric(20, 2) NOT NULL, funding_status text,"
    " amount_needed numeric(20, 2), committed numeric(20, 2) NOT NULL DEFAULT 0,"
    " outstanding numeric(20, 2) NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS planning_activity_plan ON planning_activity (plan_id)",
    # Partial indexes: only activities seeking funding are ever listed by these filters.
    f"CREATE INDEX IF NOT EXISTS planning_activity_open ON planning_activity (seq)"
    f" WHERE {_SEEKING}",
    # A whole kelurahan code.
    "CREATE INDEX IF NOT EXISTS planning_activity_open_region ON planning_activity"
    f" (region_code text_pattern_ops, seq) WHERE {_SEEKING}",
    *(
        f"CREATE INDEX IF NOT EXISTS planning_activity_open_region{n} ON planning_activity"
        f" (left(region_code, {n}), seq) WHERE {_SEEKING}"
        for n in _REGION_LEVELS
    ),
    "CREATE INDEX IF NOT EXISTS planning_activity_open_kind ON planning_activity"
    f" (aspect, kind, seq) WHERE {_SEEKING}",
    # A partner's typical question: this kind of activity in this province.
    "CREATE INDEX IF NOT EXISTS planning_activity_open_kind_province ON planning_activity"
    f" (kind, left(region_code, 2), seq) WHERE {_SEEKING}",
    # Superseded by the region levels: a range on the code cannot be read in `seq` order.
    "DROP INDEX IF EXISTS planning_activity_open_kind_region",
    "CREATE INDEX IF NOT EXISTS planning_activity_open_amount ON planning_activity"
    f" (outstanding, seq) WHERE {_SEEKING}",
    "CREATE INDEX IF NOT EXISTS planning_activity_open_status ON planning_activity"
    f" (funding_status, seq) WHERE {_SEEKING}",
    # The planner keeps no statistics for the expressions of partial indexes; without these
    # it takes every province for 0.5% of the activities and picks the wrong index.
    *(
        f"CREATE STATISTICS IF NOT EXISTS planning_activity_region{n}"
        f" ON (left(region_code, {n})) FROM planning_activity"
        for n in _REGION_LEVELS
    ),
)


def _described(event: Any) -> dict[str, Any]:
    a = event.activity
    return {
        "id": event.activity_id,
        "plan_id": event.originator_id,
        "bkm_id": event.bkm_id,
        "bkm_region_code": event.region_code,
        "plan_version": event.plan_version,
        "title": a["title"],
        "aspect": a["aspect"],
        "kind": a["kind"],
        "region_code": a["location_region_code"],
        "planned_year": a["planned_year"],
        "priority": a["priority"],
        "estimated_cost": a["estimated_cost"],
    }


def _funding(event: Any) -> dict[str, Any]:
    after = Channelling.from_state(event.channelling)
    return {
        "id": event.activity_id,
        "status": after.status,
        "needed": after.amount_needed,
        "committed": after.committed,
        "outstanding": after.outstanding,
    }


# Every event that carries the activity's channelling after it.
_FUNDING_EVENTS = frozenset(
    {
        "Plan.ChannellingOpened",
        "Plan.ChannellingWithdrawn",
        "Plan.FundingChanged",
        "Plan.MatchesChanged",
    }
)


class PlanningLists:
    """Projection of plan activities and their funding (see `salur_kit.projection`)."""

    name: str = "planning-activities"
    ddl: Sequence[str] = DDL
    aggregates: Sequence[str] = ("Plan",)

    async def apply(self, conn: psycopg.AsyncConnection[Any], event: Any) -> None:
        kind = type(event).__qualname__
        if kind == "Plan.ActivityAdded":
            await conn.execute(
                "INSERT INTO planning_activity (activity_id, plan_id, bkm_id, bkm_region_code,"
                " plan_version, title, aspect, kind, region_code, planned_year, priority,"
                " estimated_cost) VALUES (%(id)s, %(plan_id)s, %(bkm_id)s, %(bkm_region_code)s,"
                " %(plan_version)s, %(title)s, %(aspect)s, %(kind)s, %(region_code)s,"
                " %(planned_year)s, %(priority)s, %(estimated_cost)s)"
                " ON CONFLICT (activity_id) DO NOTHING",
                _described(event),
            )
        elif kind == "Plan.ActivityRevised":
            await conn.execute(
                "UPDATE planning_activity SET plan_version = %(plan_version)s, title = %(title)s,"
                " aspect = %(aspect)s, kind = %(kind)s, region_code = %(region_code)s,"
                " planned_year = %(planned_year)s, priority = %(priority)s,"
                " estimated_cost = %(estimated_cost)s WHERE activity_id = %(id)s",
                _described(event),
            )
        elif kind == "Plan.ActivityRemoved":
            await conn.execute(
                "DELETE FROM planning_activity WHERE activity_id = %s", (event.activity_id,)
            )
        elif kind == "Plan.RevisionOpened":
            await conn.execute(
                "UPDATE planning_activity SET plan_version = %s WHERE plan_id = %s",
                (event.plan_version, event.originator_id),
            )
        elif kind in _FUNDING_EVENTS:
            await conn.execute(
                "UPDATE planning_activity SET funding_status = %(status)s,"
                " amount_needed = %(needed)s, committed = %(committed)s,"
                " outstanding = %(outstanding)s WHERE activity_id = %(id)s",
                _funding(event),
            )


# One listed activity as the API documents it (`api.SeekingFundingOut`), rendered by
# Postgres: money as decimal strings with two places, exactly as `Money` serialises.
_ITEM = (
    "json_build_object('activity_id', activity_id, 'plan_id', plan_id, 'bkm_id', bkm_id,"
    " 'plan_version', plan_version, 'title', title, 'aspect', aspect, 'kind', kind,"
    " 'region_code', region_code, 'planned_year', planned_year, 'priority', priority,"
    " 'estimated_cost', estimated_cost::text, 'funding_status', funding_status,"
    " 'amount_needed', amount_needed::text, 'committed', committed::text,"
    " 'outstanding', outstanding::text)"
)


@dataclass(frozen=True)
class SeekingPage:
    items_json: str
    """A JSON array of the page's activities."""
    next_after: int | None
    """The `seq` to continue after, when the page is full."""


async def seeking_funding_page(
    conn: psycopg.AsyncConnection[Any],
    *,
    region_prefix: str | None,
    aspect: str | None,
    kind: str | None,
    status: str | None,
    min_amount: Decimal | None,
    max_amount: Decimal | None,
    after: int,
    limit: int,
) -> SeekingPage:
    """Activities still seeking funding, oldest first, keyset-paginated by `seq`.

    The amount range applies to what is still outstanding, the sum a partner would fund.
    The page comes back as JSON text, so the hot read path builds no Python object per row.
    """
    where = [_SEEKING, "seq > %(after)s"]
    params: dict[str, Any] = {"after": after, "limit": limit}
    if region_prefix:
        level = len(region_prefix)
        code = f"left(region_code, {level})" if level in _REGION_LEVELS else "region_code"
        where.append(f"{code} = %(region)s")
        params["region"] = region_prefix
    if aspect:
        where.append("aspect = %(aspect)s")
        params["aspect"] = aspect
    if kind:
        where.append("kind = %(kind)s")
        params["kind"] = kind
    if status:
        where.append("funding_status = %(status)s")
        params["status"] = status
    if min_amount is not None:
        where.append("outstanding >= %(min_amount)s")
        params["min_amount"] = min_amount
    if max_amount is not None:
        where.append("outstanding <= %(max_amount)s")
        params["max_amount"] = max_amount
    # One statement needs no transaction; autocommit spares the pool's COMMIT round trip.
    await conn.set_autocommit(True)
    async with conn.pipeline():
        # The table is small and cached: a random heap read costs about what a sequential
        # one does. At the default (4, for spinning disks) the planner would rather filter
        # every activity in `seq` order than read one province's through its own index.
        await conn.execute(f"SET random_page_cost = {RANDOM_PAGE_COST}")
        # Never prepared: a generic plan would not know how selective this region or kind
        # is, and the right index depends on it.
        cur = await conn.execute(
            f"WITH page AS (SELECT * FROM planning_activity WHERE {' AND '.join(where)}"
            " ORDER BY seq LIMIT %(limit)s)"
            f" SELECT coalesce(json_agg({_ITEM} ORDER BY seq), '[]')::text, count(*), max(seq)"
            " FROM page",
            params,
            prepare=False,
        )
    row = await cur.fetchone()
    assert row is not None  # an aggregate always returns one row
    items_json, count, last = row
    return SeekingPage(items_json, last if count == limit else None)
