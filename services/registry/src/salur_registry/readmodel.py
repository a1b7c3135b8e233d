"""The registry's query side: indexed Postgres tables projected from its own events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

DDL = (
    "CREATE TABLE IF NOT EXISTS bkm_list ("
    " seq bigserial UNIQUE, bkm_id uuid PRIMARY KEY, name text NOT NULL,"
    " region_code text NOT NULL, status text NOT NULL, units text[] NOT NULL DEFAULT '{}',"
    " status_before_suspension text, bank_account_confirmation text,"
    " version integer NOT NULL)",
    "CREATE INDEX IF NOT EXISTS bkm_list_region ON bkm_list (region_code text_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS bkm_list_status ON bkm_list (status, seq)",
    "CREATE TABLE IF NOT EXISTS partner_list ("
    " seq bigserial UNIQUE, partner_id uuid PRIMARY KEY, kind text NOT NULL,"
    " name text NOT NULL, status text NOT NULL, regions text[] NOT NULL, version integer NOT NULL)",
    "CREATE INDEX IF NOT EXISTS partner_list_kind ON partner_list (kind, status, seq)",
)

_BKM_UPDATES: dict[str, str] = {
    "Bkm.UnitAdded": "units = array_append(array_remove(units, %(unit)s), %(unit)s)",
    "Bkm.UnitRemoved": "units = array_remove(units, %(unit)s)",
    "Bkm.BankAccountChanged": "bank_account_confirmation = 'awaiting_confirmation'",
    "Bkm.BankAccountConfirmed": "bank_account_confirmation = 'confirmed'",
    "Bkm.Verified": "status = 'verified'",
    "Bkm.Suspended": "status_before_suspension = status, status = 'suspended'",
    "Bkm.Reinstated": "status = status_before_suspension",
}


class RegistryLists:
    """Projection of BKMs and partners into list tables (see `salur_kit.projection`)."""

    name: str = "registry-lists"
    ddl: Sequence[str] = DDL
    aggregates: Sequence[str] = ("Bkm", "Partner")

    async def apply(self, conn: psycopg.AsyncConnection[Any], event: Any) -> None:
        kind = type(event).__qualname__
        params = {**vars(event), "id": event.originator_id, "version": event.originator_version}
        if kind == "Bkm.Registered":
            await conn.execute(
                "INSERT INTO bkm_list (bkm_id, name, region_code, status, version)"
                " VALUES (%(id)s, %(name)s, %(region_code)s, 'registered', %(version)s)"
                " ON CONFLICT (bkm_id) DO NOTHING",
                params,
            )
        elif kind in _BKM_UPDATES:
            await conn.execute(
                f"UPDATE bkm_list SET {_BKM_UPDATES[kind]}, version = %(version)s"
                " WHERE bkm_id = %(id)s",
                params,
            )
        elif kind == "Partner.Registered":
            await conn.execute(
                "INSERT INTO partner_list (partner_id, kind, name, status, regions, version)"
                " VALUES (%(id)s, %(kind)s, %(name)s, 'registered',"
                " %(regions_of_operation)s, %(version)s) ON CONFLICT (partner_id) DO NOTHING",
                {**params, "regions_of_operation": list(event.regions_of_operation)},
            )
        elif kind == "Partner.Verified":
            await conn.execute(
                "UPDATE partner_list SET status = 'verified', version = %(version)s"
                " WHERE partner_id = %(id)s",
                params,
            )


async def list_bkms(
    conn: psycopg.AsyncConnection[Any],
    *,
    region_prefix: str | None,
    status: str | None,
    after: int,
    limit: int,
) -> Sequence[dict[str, Any]]:
    """BKMs in registration order, keyset-paginated by `seq`."""
    where = ["seq > %(after)s"]
    params: dict[str, str | int] = {"after": after, "limit": limit}
    if region_prefix:
        where.append("(region_code = %(prefix)s OR region_code LIKE %(like)s)")
        params |= {"prefix": region_prefix, "like": region_prefix + ".%"}
    if status:
        where.append("status = %(status)s")
        params["status"] = status
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT seq, bkm_id, name, region_code, status, units, bank_account_confirmation, version"
        f" FROM bkm_list WHERE {' AND '.join(where)} ORDER BY seq LIMIT %(limit)s",
        params,
    )
    return await cur.fetchall()


async def list_partners(
    conn: psycopg.AsyncConnection[Any],
    *,
    region_prefix: str | None,
    status: str | None,
    kind: str | None,
    after: int,
    limit: int,
) -> Sequence[dict[str, Any]]:
    """Partners operating in (or over) a region, in registration order."""
    where = ["seq > %(after)s"]
    params: dict[str, str | int] = {"after": after, "limit": limit}
    if region_prefix:
        # A partner of the whole province (`32`) operates in city `32.73`, and one of
        # city `32.73` operates inside the province `32`.
        where.append(
            "EXISTS (SELECT 1 FROM unnest(regions) r WHERE r = %(prefix)s"
            " OR r LIKE %(like)s OR %(prefix)s LIKE r || '.%%')"
        )
        params |= {"prefix": region_prefix, "like": region_prefix + ".%"}
    if status:
        where.append("status = %(status)s")
        params["status"] = status
    if kind:
        where.append("kind = %(kind)s")
        params["kind"] = kind
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT seq, partner_id, kind, name, status, regions, version"
        f" FROM partner_list WHERE {' AND '.join(where)} ORDER BY seq LIMIT %(limit)s",
        params,
    )
    return await cur.fetchall()
