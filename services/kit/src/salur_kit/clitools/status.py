"""`salur status`: each service's health, relay lag and consumer-group lags, as a table.

Services are read from infra/services.txt (`<name> <port>` per line); each is asked for
/readyz and /metrics, all at once, so a hung service costs one timeout, not one each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from salur_kit.metrics import ParsedSample, parse

DEFAULT_SERVICES_FILE = Path("infra/services.txt")


@dataclass(frozen=True)
class Service:
    name: str
    port: int


@dataclass
class ServiceStatus:
    service: Service
    health: str  # "ready", "not ready", "down"
    detail: str = ""
    events_stored: int | None = None
    relay_lag: int | None = None
    dead_lettered: int | None = None
    memory_bytes: int | None = None
    # (group, topic) -> records not yet committed
    consumer_lags: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.health == "ready"


def read_services(path: Path) -> list[Service]:
    services: list[Service] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) < 2 or not words[1].isdigit():
            raise ValueError(f"{path}:{number}: expected '<name> <port>', got {line!r}")
        services.append(Service(words[0], int(words[1])))
    return services


async def probe(client: httpx.AsyncClient, host: str, service: Service) -> ServiceStatus:
    base = f"http://{host}:{service.port}"
    try:
        ready = await client.get(f"{base}/readyz")
    except httpx.HTTPError as error:
        return ServiceStatus(service, "down", _reason(error))
    status = ServiceStatus(service, "ready" if ready.status_code == 200 else "not ready")
    if not status.ready:
        status.detail = _failed_checks(ready)
    try:
        metrics = await client.get(f"{base}/metrics")
    except httpx.HTTPError as error:
        status.detail = status.detail or f"metrics: {_reason(error)}"
        return status
    if metrics.status_code == 200:
        figures(status, parse(metrics.text))
    return status


def figures(status: ServiceStatus, samples: Sequence[ParsedSample]) -> None:
    """Fill the status from a service's metrics (absent figures stay unknown)."""
    dead = 0
    for sample in samples:
        if sample.name == "salur_events_stored_total":
            status.events_stored = int(sample.value)
        elif sample.name == "salur_relay_lag_events":
            status.relay_lag = int(sample.value)
        elif sample.name == "salur_dead_lettered_messages_total":
            dead += int(sample.value)
            status.dead_lettered = dead
        elif sample.name == "process_resident_memory_bytes":
            status.memory_bytes = int(sample.value)
        elif sample.name == "salur_consumer_lag_messages":
            key = (sample.labels.get("group", "?"), sample.labels.get("topic", "?"))
            status.consumer_lags[key] = int(sample.value)


def _reason(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectError):
        return "not listening"
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    return type(error).__name__


def _failed_checks(response: httpx.Response) -> str:
    try:
        checks = response.json().get("checks", {})
    except ValueError:
        return f"/readyz answered {response.status_code}"
    failed = [f"{name}: {outcome}" for name, outcome in checks.items() if outcome != "ok"]
    return "; ".join(failed) or f"/readyz answered {response.status_code}"


async def collect(
    services: Sequence[Service], host: str, timeout_seconds: float
) -> list[ServiceStatus]:
    async with httpx.AsyncClient(timeout=timeout_seconds) as client:
        return list(await asyncio.gather(*(probe(client, host, s) for s in services)))


def _cell(value: int | None) -> str:
    return "-" if value is None else str(value)


def _mebibytes(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.0f}"


def render(statuses: Sequence[ServiceStatus]) -> list[str]:
    lines = [
        f"{'SERVICE':<14} {'PORT':>5}  {'HEALTH':<10} {'EVENTS':>8} {'RELAY LAG':>9} "
        f"{'DEAD LETTERS':>12} {'MEM MiB':>7}  DETAIL"
    ]
    for s in statuses:
        lines.append(
            f"{s.service.name:<14} {s.service.port:>5}  {s.health:<10} "
            f"{_cell(s.events_stored):>8} {_cell(s.relay_lag):>9} "
            f"{_cell(s.dead_lettered):>12} {_mebibytes(s.memory_bytes):>7}  {s.detail}".rstrip()
        )
    groups = [
        (s.service.name, group, topic, lag)
        for s in statuses
        for (group, topic), lag in sorted(s.consumer_lags.items())
    ]
    if groups:
        lines += ["", f"{'CONSUMER GROUP':<24} {'SERVICE':<14} {'TOPIC':<34} {'LAG':>7}"]
        lines += [f"{g:<24} {name:<14} {t:<34} {lag:>7}" for name, g, t, lag in groups]
    return lines


def exceeds(statuses: Sequence[ServiceStatus], max_lag: int | None) -> list[str]:
    """What makes the platform unhealthy: a service not ready, or a lag above the limit."""
    problems = [f"{s.service.name} is {s.health}" for s in statuses if not s.ready]
    if max_lag is not None:
        for s in statuses:
            if s.relay_lag is not None and s.relay_lag > max_lag:
                problems.append(f"{s.service.name} relay lag {s.relay_lag} > {max_lag}")
            for (group, topic), lag in s.consumer_lags.items():
                if lag > max_lag:
                    problems.append(f"group {group} on {topic} lags {lag} > {max_lag}")
    return problems


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "status",
        help="each service's health, relay lag and consumer-group lags",
        description=(
            "Ask every service listed in the services file for /readyz and /metrics and "
            "print a table: health, events stored, relay lag (events stored but not yet on "
            "Kafka), dead-lettered messages, resident memory, and each consumer group's lag "
            "(records not yet committed). Exit status: 0 all ready (and within --max-lag), "
            "1 something unhealthy, 2 usage."
        ),
    )
    parser.add_argument(
        "--services-file",
        type=Path,
        default=None,
        help=f"'<name> <port>' lines (default $SALUR_SERVICES_FILE or {DEFAULT_SERVICES_FILE})",
    )
    parser.add_argument("--host", default="127.0.0.1", help="where the services listen")
    parser.add_argument(
        "--max-lag", type=int, default=None, help="also unhealthy when any lag exceeds this"
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per request")
    parser.set_defaults(handler=_command, command_parser=parser)


def _command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    path: Path = args.services_file or Path(
        os.environ.get("SALUR_SERVICES_FILE") or DEFAULT_SERVICES_FILE
    )
    if args.max_lag is not None and args.max_lag < 0:
        parser.error("--max-lag must not be negative")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    try:
        services = read_services(path)
    except FileNotFoundError:
        parser.error(f"no services file at {path} (run in the repository, or --services-file)")
    except ValueError as error:
        parser.error(str(error))
    if not services:
        parser.error(f"{path} lists no services")
    statuses = asyncio.run(collect(services, args.host, args.timeout))
    print("\n".join(render(statuses)))
    problems = exceeds(statuses, args.max_lag)
    if problems:
        print("\nunhealthy: " + "; ".join(problems))
        return 1
    return 0
