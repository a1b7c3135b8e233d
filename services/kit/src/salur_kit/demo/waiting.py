"""Waiting for asynchronous effects: poll until a probe answers, with a deadline and a
progress line, never a fixed sleep."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO, TypeVar

T = TypeVar("T")


class WaitTimeoutError(Exception):
    """The effect did not show within the deadline."""


@dataclass
class Waiter:
    timeout_seconds: float = 120.0
    interval_seconds: float = 0.1
    max_interval_seconds: float = 2.0
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    _last_note: str = ""

    def note(self, text: str) -> None:
        """What the last unsuccessful probe saw, for the timeout message."""
        self._last_note = text

    def pause(self, seconds: float | None = None) -> None:
        time.sleep(self.interval_seconds if seconds is None else seconds)

    def until(self, what: str, probe: Callable[[], T | None]) -> T:
        """Call `probe` until it returns something other than None."""
        self._last_note = ""
        started = time.monotonic()
        shown = False
        # Quick effects are seen quickly; a long wait (a consumer catching up) polls less.
        interval = self.interval_seconds
        while True:
            result = probe()
            elapsed = time.monotonic() - started
            if result is not None:
                if shown:
                    self._line(f"  ... {what}: done in {elapsed:.1f}s", end="\n")
                return result
            if elapsed > self.timeout_seconds:
                if shown:
                    self._line("", end="\n")
                seen = f" (last seen: {self._last_note})" if self._last_note else ""
                raise WaitTimeoutError(
                    f"waited {self.timeout_seconds:.0f}s for {what}{seen}"
                ) from None
            # Quick effects print nothing; a slower one gets a line that updates in place.
            if elapsed > 1.0:
                self._line(f"  ... waiting for {what} ({elapsed:.0f}s)")
                shown = True
            self.pause(interval)
            interval = min(interval * 1.5, self.max_interval_seconds)

    def _line(self, text: str, end: str = "") -> None:
        if self.stream.isatty():
            self.stream.write(f"\r\033[K{text}{end}")
        elif end:
            self.stream.write(f"{text.strip()}\n" if text else "")
        self.stream.flush()
