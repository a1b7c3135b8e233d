"""Resident memory of a process, as the kernel reports it in /proc/<pid>/status."""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def resident_kib(pid: int, proc: Path = PROC, field: str = "VmRSS") -> int:
    """`VmRSS` (now) or `VmHWM` (peak) of `pid` in KiB; an error if the process is gone."""
    status = proc / str(pid) / "status"
    for line in status.read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            number, _, unit = value.strip().partition(" ")
            if unit.strip() != "kB":
                raise ValueError(f"{status}: unexpected unit in {line!r}")
            return int(number)
    raise ValueError(f"{status} has no {field} line (a kernel thread or a zombie?)")


def megabytes(kib: int) -> float:
    """Decimal megabytes (10^6 bytes), the unit the targets are written in."""
    return kib * 1024 / 1_000_000
