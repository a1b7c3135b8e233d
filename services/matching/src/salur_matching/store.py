"""Matching's durable state, in the same Postgres transaction as its events and tracking.

`matching_fact` holds the current facts (activities, opportunities, BKMs, partners), one
JSON row each; `matching_match` holds every pair ever proposed with its version (odd while
it stands). A consumed event's fact rows, the match events it caused and its tracking row
commit together, so a restart reloads exactly what was decided and never proposes a pair
that already stands. The process recorder is extended, not replaced: the rows ride in the
`state` keyword of the recorder's own insert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb
from salur_contracts.matching import match_id
from salur_kit.eventstore import BatchTrackingRecorder

from salur_matching.engine import Change, Engine, FactRow

DDL = (
    "CREATE TABLE IF NOT EXISTS matching_fact ("
    " kind text NOT NULL, id uuid NOT NULL, state jsonb NOT NULL, PRIMARY KEY (kind, id))",
    "CREATE TABLE IF NOT EXISTS matching_match ("
    " match_id uuid PRIMARY KEY, activity_id uuid NOT NULL, opportunity_id uuid NOT NULL,"
    " version integer NOT NULL, standing boolean NOT NULL)",
    "CREATE TABLE IF NOT EXISTS matching_rebuild ("
    " topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL,"
    " rebuilt_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (topic, partition))",
)
UPSERT_FACT = (
    "INSERT INTO matching_fact (kind, id, state) VALUES (%s, %s, %s)"
    " ON CONFLICT (kind, id) DO UPDATE SET state = EXCLUDED.state"
)
UPSERT_MATCH = (
    "INSERT INTO matching_match (match_id, activity_id, opportunity_id, version, standing)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (match_id) DO UPDATE"
    " SET version = EXCLUDED.version, standing = EXCLUDED.standing"
)

FactParams = tuple[str, UUID, Jsonb]
MatchParams = tuple[UUID, UUID, UUID, int, bool]


def fact_params(rows: Iterable[FactRow]) -> list[FactParams]:
    return [(kind, key, Jsonb(fact.row())) for kind, key, fact in rows]


def match_params(activity_id: UUID, opportunity_id: UUID, version: int) -> MatchParams:
    return (
        match_id(activity_id, opportunity_id),
        activity_id,
        opportunity_id,
        version,
        version % 2 == 1,
    )


def state_of(change: Change) -> tuple[list[FactParams], list[MatchParams]]:
    """The rows one event's change writes."""
    matches = [
        match_params(t.activity.activity_id, t.opportunity.opportunity_id, t.version)
        for t in change.transitions
    ]
    return fact_params(change.facts), matches


class StateRecorder(BatchTrackingRecorder):
    """The kit's process recorder plus matching's state tables, written in its transaction."""

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=True) as curs:
            for statement in DDL:
                curs.execute(statement)

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        state: tuple[list[FactParams], list[MatchParams]] | None = kwargs.get("state")
        if state is None:
            return
        facts, matches = state
        if facts:
            curs.executemany(UPSERT_FACT, facts)
        if matches:
            curs.executemany(UPSERT_MATCH, matches)

    def load_into(self, engine: Engine) -> None:
        """Every stored fact and match into the engine (start-up), streamed in chunks so the
        rows are never all in memory at once."""
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor(name="matching_facts") as curs:
                curs.itersize = 5000
                curs.execute("SELECT kind, state FROM matching_fact")
                engine.load(((row["kind"], row["state"]) for row in curs), ())
            with conn.cursor(name="matching_matches") as curs:
                curs.itersize = 20000
                curs.execute("SELECT activity_id, opportunity_id, version FROM matching_match")
                engine.load(
                    (),
                    ((row["activity_id"], row["opportunity_id"], row["version"]) for row in curs),
                )
