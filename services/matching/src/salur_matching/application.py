"""Matching's use cases: take an event from another service into account (the consumer's
effect), and answer the three questions (queries, read-only)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import Tracking
from salur_contracts.base import IntegrationEvent
from salur_contracts.cloudevents import Envelope
from salur_kit.errors import NotFoundError
from salur_kit.eventstore import ServiceApplication, memory_env

from salur_matching.domain import event_for
from salur_matching.engine import Engine, Ranked, Transition
from salur_matching.rules import RuleResult
from salur_matching.store import StateRecorder, state_of

RECORDER_TOPIC = "salur_matching.store:StateRecorder"


class MatchingApplication(ServiceApplication):
    """On Postgres, facts and matches are durable and reloaded at start; in memory (unit
    tests) they live as long as the object."""

    name = "matching"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        settings = dict(env) if env is not None else memory_env()
        if settings.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
            settings["PROCESS_RECORDER_TOPIC"] = RECORDER_TOPIC
        super().__init__(settings)
        self.engine = Engine()
        # The consumer's thread and the API's threads share the engine.
        self.lock = threading.Lock()
        if isinstance(self.recorder, StateRecorder):
            self.recorder.load_into(self.engine)

    # -- what other services tell us -----------------------------------------------------------

    def take_into_account(
        self, data: IntegrationEvent, version: int, tracking: Tracking
    ) -> list[Transition]:
        """Apply one event: facts, match events and tracking commit together or not at all."""
        with self.lock:
            change = self.engine.apply(data, version)
            try:
                processing: ProcessingEvent[UUID] = ProcessingEvent(tracking=tracking)
                processing.collect_events(
                    *[event_for(t) for t in change.transitions], state=state_of(change)
                )
                recordings = self._record(processing)
            except BaseException:
                change.undo()
                raise
        self._notify(recordings)
        return change.transitions

    # -- queries -------------------------------------------------------------------------------

    def opportunities_for(self, activity_id: UUID) -> list[Ranked]:
        with self.lock:
            self._require_activity(activity_id)
            return self.engine.opportunities_for(activity_id)

    def activities_for(self, opportunity_id: UUID) -> list[Ranked]:
        with self.lock:
            self._require_opportunity(opportunity_id)
            return self.engine.activities_for(opportunity_id)

    def explain(
        self, activity_id: UUID, opportunity_id: UUID
    ) -> tuple[list[RuleResult], Ranked | None]:
        with self.lock:
            self._require_activity(activity_id)
            self._require_opportunity(opportunity_id)
            return self.engine.explain(activity_id, opportunity_id)

    def _require_activity(self, activity_id: UUID) -> None:
        if activity_id not in self.engine.activities:
            raise NotFoundError(f"activity {activity_id} is not known to matching")

    def _require_opportunity(self, opportunity_id: UUID) -> None:
        if opportunity_id not in self.engine.opportunities:
            raise NotFoundError(f"opportunity {opportunity_id} is not known to matching")


class MatchingEffects:
    """The tracked consumer's effect: the event's changes, saved with its tracking row."""

    def __init__(self, app: MatchingApplication) -> None:
        self.app = app

    def is_processed(self, tracking: Tracking) -> bool:
        return self.app.recorder.has_tracking_id(
            tracking.application_name, tracking.notification_id
        )

    def apply(self, envelope: Envelope, tracking: Tracking) -> None:
        self.app.take_into_account(envelope.data, envelope.aggregate_version, tracking)
