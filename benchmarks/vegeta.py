"""The open loop driven by vegeta, a constant-rate load generator written in Go.

On two cores a Python client competes with the service for CPU and lags its own schedule,
which inflates the latencies it reports. Vegeta costs little CPU; it is installed through
the Go module proxy into the git-ignored `.cache/` when `go` is present. Without it the
bench falls back to the Python open loop and says so.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.load import EXPECTED_STATUS, PATH, BkmCommands, LoadResult

MODULE = "github.com/tsenart/vegeta/v12@v12.12.0"
CACHE_BIN = Path(".cache/go-bin")


def binary() -> Path | None:
    """Vegeta from PATH or the cache, installed into the cache when Go is available."""
    found = shutil.which("vegeta") or shutil.which("vegeta", path=str(CACHE_BIN))
    if found:
        return Path(found)
    go = shutil.which("go")
    if go is None:
        return None
    CACHE_BIN.mkdir(parents=True, exist_ok=True)
    installed = subprocess.run(
        [go, "install", MODULE],
        env=os.environ | {"GOBIN": str(CACHE_BIN.resolve())},
        capture_output=True,
        timeout=300,
        check=False,
    )
    candidate = CACHE_BIN / "vegeta"
    return candidate if installed.returncode == 0 and candidate.exists() else None


def _target(url: str, body: dict[str, Any], headers: dict[str, str]) -> str:
    """One line of vegeta's JSON targets format."""
    target = {
        "method": "POST",
        "url": url,
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
        "header": {k: [v] for k, v in (headers | {"Content-Type": "application/json"}).items()},
    }
    return json.dumps(target) + "\n"


def write_targets(base_urls: Sequence[str], commands: BkmCommands, count: int, path: Path) -> None:
    """`count` registrations, sent to each of `base_urls` in turn (a load balancer's
    round robin over the replicas of the service)."""
    with path.open("w") as out:
        for n in range(count):
            body, headers = commands.next()
            out.write(_target(base_urls[n % len(base_urls)] + PATH, body, headers))


def _run(
    vegeta: Path, targets: Path, rate: float, seconds: float, expected: int = EXPECTED_STATUS
) -> LoadResult:
    rows = attack_csv(vegeta, targets, rate, seconds, timeout=10.0)
    result = LoadResult()
    first = last = 0
    for row in csv.reader(rows.splitlines()):
        started_ns, code, latency_ns = int(row[0]), int(row[1]), int(row[2])
        first = started_ns if not first else min(first, started_ns)
        last = max(last, started_ns + latency_ns)
        if code == expected:
            result.latencies.append(latency_ns / 1e9)
        else:
            result.failures[f"HTTP {code} {row[5]}".strip()] += 1
    result.elapsed = (last - first) / 1e9
    return result


async def open_loop(
    vegeta: Path,
    base_urls: Sequence[str],
    commands: BkmCommands,
    rate: float,
    seconds: float,
) -> LoadResult:
    """Exactly `rate` requests per second in all, each a distinct registration with its own
    key, spread evenly over `base_urls`."""
    with tempfile.TemporaryDirectory() as scratch:
        targets = Path(scratch) / "targets.jsonl"
        write_targets(base_urls, commands, round(rate * seconds), targets)
        return await asyncio.to_thread(_run, vegeta, targets, rate, seconds)


async def attack(
    vegeta: Path,
    requests: Iterable[tuple[str, dict[str, Any], dict[str, str]]],
    rate: float,
    seconds: float,
    expected: int,
) -> LoadResult:
    """Any JSON POSTs (url, body, headers) at exactly `rate` per second; `expected` is the
    status that counts as success."""
    with tempfile.TemporaryDirectory() as scratch:
        targets = Path(scratch) / "targets.jsonl"
        with targets.open("w") as out:
            for url, body, headers in requests:
                out.write(_target(url, body, headers))
        return await asyncio.to_thread(_run, vegeta, targets, rate, seconds, expected)


def attack_csv(vegeta: Path, targets: Path, rate: float, seconds: float, timeout: float) -> str:
    """Vegeta sends the targets at `rate` for `seconds` (keep-alive, each request given
    `timeout`); its results as CSV (start ns, code, latency ns, ...), one row per request."""
    attack = subprocess.run(
        [
            str(vegeta),
            "attack",
            "-format=json",
            f"-targets={targets}",
            f"-rate={rate:g}/s",
            f"-duration={seconds:g}s",
            f"-timeout={timeout:g}s",
            "-keepalive",
        ],
        capture_output=True,
        check=True,
        timeout=seconds + timeout + 60,
    )
    encoded = subprocess.run(
        [str(vegeta), "encode", "-to=csv"], input=attack.stdout, capture_output=True, check=True
    )
    return encoded.stdout.decode()
