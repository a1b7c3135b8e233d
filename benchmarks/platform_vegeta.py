"""The platform bench's open loop sent by vegeta (Go), whose results say when each
command was sent and answered, so commit times are known without a Python client
competing with the services for the CPU (httpx costs ~5 ms of CPU a request here)."""

from __future__ import annotations

import asyncio
import csv
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.platform_commands import Command
from benchmarks.vegeta import _target, attack_csv


@dataclass(frozen=True)
class Sent:
    """One vegeta result: the `seq`-th target, sent at `sent` and answered `latency` later
    (wall-clock seconds), with its HTTP status (0 when there was no answer)."""

    seq: int
    sent: float
    latency: float
    status: int
    error: str

    @property
    def answered(self) -> float:
        return self.sent + self.latency


def parse_results(text: str) -> list[Sent]:
    """`vegeta encode -to=csv` lines: timestamp ns, code, latency ns, bytes out, bytes in,
    error, body, attack, seq, ..."""
    return [
        Sent(int(row[8]), int(row[0]) / 1e9, int(row[2]) / 1e9, int(row[1]), row[5])
        for row in csv.reader(text.splitlines())
        if row
    ]


def schedule_lag(results: Sequence[Sent], rate: float) -> float:
    """How late vegeta sent its latest command against first + seq / rate."""
    if not results:
        return 0.0
    first = min(r.sent for r in results)
    return max(r.sent - (first + r.seq / rate) for r in results)


async def attack(
    vegeta: Path, base_url: str, commands: Sequence[Command], rate: float, answer_within: float
) -> list[Sent]:
    """Send `commands` in order at exactly `rate` per second; one result per command (an
    answer later than `answer_within` seconds counts as none)."""
    with tempfile.TemporaryDirectory(prefix="salur-bench-platform-") as scratch:
        targets = Path(scratch) / "targets.jsonl"
        with targets.open("w") as out:
            for path, body, headers in commands:
                out.write(_target(base_url + path, body, headers))
        return await asyncio.to_thread(_run, vegeta, targets, len(commands), rate, answer_within)


def _run(vegeta: Path, targets: Path, count: int, rate: float, timeout: float) -> list[Sent]:
    return parse_results(attack_csv(vegeta, targets, rate, count / rate, timeout))
