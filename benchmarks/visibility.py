"""Bookkeeping of end-to-end latency: when each command committed, when its effect first
showed in a downstream read model, and the percentiles of the difference.

Pure: times are whatever clock the caller reads (the bench uses `time.perf_counter`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from benchmarks.stats import percentile


def arrival_schedule(rate: float, seconds: float) -> list[float]:
    """Offsets (s from the start) at which an open loop sends, fixed in advance: one every
    1/rate seconds whatever the answers do, so queueing cannot slow the arrivals down and
    hide itself (no coordinated omission)."""
    if rate <= 0 or seconds <= 0:
        raise ValueError(f"rate and duration must be positive, not {rate}/s for {seconds}s")
    return [i / rate for i in range(round(rate * seconds))]


@dataclass
class EffectLedger:
    """Commands of one run against one downstream read model, by the id they create."""

    sent: set[str] = field(default_factory=set)
    committed: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)
    # Committed and not yet seen, kept as they change: the pollers ask for it every few ms.
    _pending: dict[str, None] = field(default_factory=dict, repr=False)

    def send(self, command_id: str) -> None:
        self.sent.add(command_id)

    def commit(self, command_id: str, at: float) -> None:
        """The command's answer arrived: it committed before this time."""
        self.committed[command_id] = at
        if command_id not in self.seen:
            self._pending[command_id] = None

    def fail(self, command_id: str, reason: str) -> None:
        """No commit (refused, errored or unanswered): it has no effect to wait for."""
        self.failed[command_id] = reason

    def see(self, command_ids: Iterable[str], at: float) -> None:
        """These effects were visible at `at`; only the first sighting counts."""
        for command_id in command_ids:
            self.seen.setdefault(command_id, at)
            self._pending.pop(command_id, None)

    def unseen(self) -> list[str]:
        """Committed commands whose effect has not shown yet: what to poll for. (An effect
        that shows before its answer arrives is found by the first poll after the answer;
        the commit time is not known any earlier.)"""
        return list(self._pending)

    def unanswered(self) -> int:
        return len(self.sent) - len(self.committed) - len(self.failed)

    def latencies(self) -> list[float]:
        """Seconds from commit to visible per committed command that showed."""
        return [max(0.0, self.seen[i] - at) for i, at in self.committed.items() if i in self.seen]

    def never_seen(self) -> int:
        return sum(1 for i in self.committed if i not in self.seen)

    def outcomes(self) -> list[float]:
        """Latencies, with every command that failed and every committed effect that never
        showed counted as infinitely slow: an overloaded platform cannot pass by refusing."""
        return self.latencies() + [math.inf] * (self.never_seen() + len(self.failed))


@dataclass(frozen=True)
class LatencySummary:
    """Percentiles in milliseconds over every command sent and answered: a failed command
    or an effect that never showed counts as infinitely slow."""

    count: int
    failed: int
    never_seen: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, ledger: EffectLedger) -> LatencySummary:
        outcomes = ledger.outcomes()
        p50, p95, p99, top = (percentile(outcomes, p) * 1000 for p in (50, 95, 99, 100))
        return cls(len(outcomes), len(ledger.failed), ledger.never_seen(), p50, p95, p99, top)
