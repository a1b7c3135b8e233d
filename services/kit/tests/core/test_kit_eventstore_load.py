"""Loading an aggregate: from its snapshot where its kind is snapshotted, from its events
alone otherwise (without asking the snapshot table), and a 404 for a missing or other kind."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, event
from salur_kit.errors import NotFoundError
from salur_kit.eventstore import ServiceApplication


class Counter(Aggregate):
    @event("Opened")
    def __init__(self) -> None:
        self.count = 0

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1


class Ledger(Aggregate):
    @event("Opened")
    def __init__(self) -> None:
        self.entries = 0

    @event("Entered")
    def enter(self) -> None:
        self.entries += 1


class Books(ServiceApplication):
    snapshotting_intervals = {Ledger: 3}


class SnapshotLookups:
    """Counts the snapshot table's reads, passing each on unchanged."""

    def __init__(self, app: Books) -> None:
        assert app.snapshots is not None
        self.reads = 0
        original = app.snapshots.get

        def counting_get(*args: Any, **kwargs: Any) -> Any:
            self.reads += 1
            return original(*args, **kwargs)

        app.snapshots.get = counting_get  # type: ignore[method-assign]


@pytest.fixture
def books(event_store_env: Mapping[str, str]) -> Iterator[Books]:
    app = Books(event_store_env)
    yield app
    app.close()


def _counted(app: Books, times: int) -> UUID:
    counter = Counter()
    for _ in range(times):
        counter.count_one()
    app.save(counter)
    return counter.id


def test_an_aggregate_never_snapshotted_loads_from_its_events_without_a_snapshot_lookup(
    books: Books,
) -> None:
    counter_id = _counted(books, 7)
    lookups = SnapshotLookups(books)

    counter = books.load(Counter, counter_id, "counter")

    assert (counter.count, counter.version) == (7, 8)
    assert lookups.reads == 0


def test_a_snapshotted_aggregate_loads_from_its_snapshot_and_the_events_after_it(
    books: Books,
) -> None:
    ledger = Ledger()
    books.save(ledger)
    for _ in range(4):
        ledger.enter()
        books.save(ledger)  # a snapshot at every third version
    lookups = SnapshotLookups(books)

    loaded = books.load(Ledger, ledger.id, "ledger")

    assert (loaded.entries, loaded.version) == (4, 5)
    assert lookups.reads == 1


def test_a_missing_aggregate_or_one_of_another_kind_is_not_found(books: Books) -> None:
    counter_id = _counted(books, 1)

    with pytest.raises(NotFoundError, match="does not exist"):
        books.load(Counter, uuid4(), "counter")
    with pytest.raises(NotFoundError, match="does not exist"):
        books.load(Ledger, counter_id, "ledger")
    with pytest.raises(NotFoundError, match="does not exist"):
        books.load(Ledger, uuid4(), "ledger")
