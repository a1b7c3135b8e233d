"""Event-sourced applications persisted in the service's own Postgres database.

Every service application derives from `ServiceApplication`. It always uses a *process*
recorder, so a consumer can save new events together with the tracking record of the
message that caused them (one transaction: exactly-once effects). The mapper stamps the
W3C `traceparent` of the current span into each stored event, which is how one trace
follows a command through the outbox relay onto Kafka.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit
from uuid import UUID

import psycopg
from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    project_aggregate,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Mapper,
    ProcessRecorder,
    StoredEvent,
    Tracking,
    Transcoding,
)
from eventsourcing.postgres import PostgresProcessRecorder
from psycopg import Cursor
from psycopg.rows import DictRow

from salur_kit import telemetry
from salur_kit.errors import ConcurrentWriteError, NotFoundError, StaleVersionError

TRACEPARENT_KEY = "__traceparent__"
A = TypeVar("A", bound=Aggregate)
BATCH_RECORDER_TOPIC = "salur_kit.eventstore:BatchTrackingRecorder"


class BatchTrackingRecorder(PostgresProcessRecorder):
    """The Postgres process recorder, plus `insert_events(..., trackings=[...])`: the
    tracking rows of several messages in the events' one transaction (a consumer's batch).
    A row already recorded fails the whole transaction (`IntegrityError`)."""

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        # After the first message's row, in the batch's order: the rows of one aggregate
        # must go up in version (each name keeps its last position).
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(curs, tracking=tracking)


def postgres_env(database_url: str, *, pool_size: int = 5) -> dict[str, str]:
    """The eventsourcing environment for a `postgresql://user:pass@host:port/db` URL."""
    url = urlsplit(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/"),
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or ""),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size),
        "POSTGRES_LOCK_TIMEOUT": "5",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
        "POSTGRES_CONNECT_TIMEOUT": "5",
        "PROCESS_RECORDER_TOPIC": BATCH_RECORDER_TOPIC,
    }


def memory_env() -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class _DateAsISO(Transcoding):
    type = dt.date
    name = "date_iso"

    def encode(self, obj: dt.date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> dt.date:
        return dt.date.fromisoformat(data)


class _TupleAsList(Transcoding):
    type = tuple
    name = "tuple_as_list"

    def encode(self, obj: tuple[Any, ...]) -> list[Any]:
        return list(obj)

    def decode(self, data: list[Any]) -> tuple[Any, ...]:
        return tuple(data)


class TracingMapper(Mapper[UUID]):
    """Keeps the trace context of the command that produced each event.

    The `traceparent` rides in the stored state under a reserved key, which is removed
    again when the event is read, so aggregates never see it.
    """

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        stored = super().to_stored_event(domain_event)
        if TRACEPARENT_KEY in vars(domain_event):
            return stored  # stamped by the consumer that decided it (one of a batch)
        traceparent = telemetry.current_traceparent()
        if traceparent is None:
            return stored
        if self.compressor is None and self.cipher is None and stored.state.startswith(b"{"):
            # The transcoder writes a JSON object: add one member without re-encoding it.
            member = b'"' + TRACEPARENT_KEY.encode() + b'":"' + traceparent.encode() + b'"'
            rest = stored.state[1:]
            state = b"{" + member + (b"," + rest if rest.strip() != b"}" else b"}")
        else:
            decoded = self.transcoder.decode(stored.state)
            decoded[TRACEPARENT_KEY] = traceparent
            state = self.transcoder.encode(decoded)
        return StoredEvent(
            originator_id=stored.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=state,
        )

    def to_domain_event_with_trace(self, stored_event: StoredEvent) -> tuple[Any, str | None]:
        event = super().to_domain_event(stored_event)
        return event, vars(event).pop(TRACEPARENT_KEY, None)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return self.to_domain_event_with_trace(stored_event)[0]


@contextlib.contextmanager
def _schema_lock(env: Mapping[str, str]) -> Iterator[None]:
    """Held while the block runs, on the key `positions.SCHEMA_LOCK` takes too."""
    with psycopg.connect(
        dbname=env.get("POSTGRES_DBNAME"),
        host=env.get("POSTGRES_HOST"),
        port=env.get("POSTGRES_PORT"),
        user=env.get("POSTGRES_USER"),
        password=env.get("POSTGRES_PASSWORD"),
        connect_timeout=int(env.get("POSTGRES_CONNECT_TIMEOUT") or 5),
        autocommit=True,
    ) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('salur-schema'))")
        yield


class ServiceApplication(Application[UUID]):
    """Base of every service's application: Postgres or in-memory, chosen by `env`."""

    recorder: ProcessRecorder

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(dict(env) if env is not None else memory_env())
        self._batch = threading.local()

    @property
    def records_batches(self) -> bool:
        """Whether `save_tracked` can record several messages' tracking rows at once."""
        return isinstance(self.recorder, BatchTrackingRecorder)

    @contextlib.contextmanager
    def batch_identity(self) -> Iterator[dict[UUID, Aggregate]]:
        """While a consumer's batch is decided (in this thread): `load` returns the
        aggregate a previous message of the batch changed, not a second copy from the
        store. Put each changed aggregate in the yielded map."""
        known: dict[UUID, Aggregate] = {}
        self._batch.known = known
        try:
            yield known
        finally:
            self._batch.known = None

    def construct_recorder(self) -> ProcessRecorder:
        if self.env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
            return self.factory.process_recorder()
        # The recorder creates its tables; replicas start together, and two concurrent
        # `CREATE ... IF NOT EXISTS` of one table can still collide: one at a time.
        with _schema_lock(self.env):
            return self.factory.process_recorder()

    def construct_mapper(self) -> Mapper[UUID]:
        return TracingMapper(transcoder=self.construct_transcoder())

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(_DateAsISO())
        transcoder.register(_TupleAsList())

    @property
    def mapper_with_trace(self) -> TracingMapper:
        mapper = self.mapper
        assert isinstance(mapper, TracingMapper)
        return mapper

    def load(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        """Get an aggregate, turning the library's error into the platform's 404."""
        known: dict[UUID, Aggregate] | None = getattr(self._batch, "known", None)
        if known is not None and aggregate_id in known:
            changed = known[aggregate_id]
            if not isinstance(changed, cls):
                raise NotFoundError(f"{what} {aggregate_id} does not exist")
            return changed
        try:
            if self._may_have_snapshots(cls):
                aggregate: Aggregate | None = self.repository.get(aggregate_id)
            else:
                # The repository would first ask the snapshot table, one more round trip
                # per load, for a kind of aggregate that is never snapshotted.
                events = self.repository.event_store.get(originator_id=aggregate_id)
                aggregate = project_aggregate(None, events)
        except AggregateNotFoundError:
            aggregate = None
        if not isinstance(aggregate, cls):
            raise NotFoundError(f"{what} {aggregate_id} does not exist")
        return aggregate

    def _may_have_snapshots(self, cls: type[Aggregate]) -> bool:
        """Whether an aggregate loaded as `cls` can have snapshots: with snapshotting on,
        only the classes named in `snapshotting_intervals` (or their bases) are snapshotted,
        unless there are no intervals, when any could be."""
        if self.snapshots is None:
            return False
        if not self.snapshotting_intervals:
            return True
        return any(issubclass(snapshotted, cls) for snapshotted in self.snapshotting_intervals)

    @staticmethod
    def check_version(aggregate: Aggregate, expected_version: int | None) -> None:
        """Optimistic concurrency: refuse a change made against a stale read."""
        if expected_version is not None and expected_version != aggregate.version:
            raise StaleVersionError(expected_version, aggregate.version)

    def save_tracked(
        self, *aggregates: Aggregate, tracking: Tracking, more: Sequence[Tracking] = ()
    ) -> None:
        """Save new events and the position of the message that caused them (and of the
        `more` messages of its batch: `records_batches` only), atomically.

        The recorder raises `IntegrityError` when a tracking row was recorded before: the
        message was processed before.
        """
        if more and not self.records_batches:
            raise TypeError("this recorder keeps one message's tracking row per transaction")
        processing: ProcessingEvent[UUID] = ProcessingEvent(tracking=tracking)
        processing.collect_events(*aggregates, **({"trackings": list(more)} if more else {}))
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)

    def save_or_conflict(self, *aggregates: Aggregate) -> None:
        """Save; a concurrent writer that got there first is a 409, never a merge."""
        names = sorted({type(a).__name__ for a in aggregates})
        try:
            with telemetry.tracer.start_as_current_span(f"store {', '.join(names)} events"):
                self.save(*aggregates)
        except IntegrityError:
            raise ConcurrentWriteError from None
