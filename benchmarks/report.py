"""The results of one run: a printed table with PASS/MISS per target, and a JSON file."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One measured number, its ratio to the raw baseline it is read against, and a target."""

    name: str
    value: float
    unit: str
    ratio: float | None = None
    ratio_to: str = ""
    target: str = ""
    passed: bool | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        return "" if self.passed is None else ("PASS" if self.passed else "MISS")


@dataclass
class Report:
    run_id: str
    figures: list[Figure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    @property
    def misses(self) -> list[Figure]:
        return [figure for figure in self.figures if figure.passed is False]

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "machine": _machine(),
            "figures": [_figure_json(f) for f in self.figures],
            "errors": self.errors,
            "details": self.details,
        }

    def write_json(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"registry-{self.run_id}.json"
        path.write_text(json.dumps(self.as_json(), indent=2, default=str) + "\n")
        return path


def _finite(value: float | None) -> float | None:
    """JSON has no Infinity or NaN: a failed latency or a missing ratio becomes null."""
    return value if value is not None and math.isfinite(value) else None


def _figure_json(figure: Figure) -> dict[str, Any]:
    fields = asdict(figure)
    fields.update(
        value=_finite(figure.value), ratio=_finite(figure.ratio), verdict=figure.verdict or None
    )
    return fields


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "failed"
    if unit == "requests":
        return f"{value:,.0f}"
    if unit == "ms" or abs(value) < 100:
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def table(report: Report) -> str:
    """A fixed-width table; ratios read as "this figure is N x its raw baseline"."""
    header = ("figure", "value", "unit", "ratio", "ratio to", "target", "verdict")
    rows = [header] + [
        (
            f.name,
            _fmt(f.value, f.unit),
            f.unit,
            "-" if f.ratio is None or math.isinf(f.ratio) else f"{f.ratio:.3f}x",
            f.ratio_to,
            f.target,
            f.verdict,
        )
        for f in report.figures
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {1, 3}

    def line(row: tuple[str, ...]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "| " + " | ".join(cells) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    lines = [line(rows[0]), rule, *(line(row) for row in rows[1:])]
    notes = [f"  - {f.name}: {f.note}" for f in report.figures if f.note]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


def _machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "host": platform.node(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "git_commit": commit or None,
    }
