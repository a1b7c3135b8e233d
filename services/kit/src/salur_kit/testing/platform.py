"""The whole platform as real, separate processes (`python -m salur_<name>`), each on a
fresh scratch database and a free port, stopped and dropped afterwards whatever happens.

Shared by the end-to-end test and the whole-platform benchmark, so both start the
platform the same way. The services publish to the shared topics, where other tests and a
running platform also write: each consumer group gets a unique prefix and starts at the
topics' current end.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from salur_kit.runtime import ServiceSpec
from salur_kit.testing.databases import scratch_database
from salur_kit.testing.kafka import start_group_at_end
from salur_kit.testing.ports import free_port

SERVICES = ("registry", "planning", "opportunities", "matching", "partnerships", "audit")
READY_SECONDS = 120.0
STOP_GRACE_SECONDS = 25.0
# Committing the fresh groups' offsets: a few Kafka round trips per group.
GROUP_START_SECONDS = 60.0
LOG_TAIL_LINES = 40


class PlatformStartError(RuntimeError):
    """A service exited, or was not ready in time; the message carries its log's tail."""


@dataclass(frozen=True)
class RunningPlatform:
    urls: dict[str, str]
    database_urls: dict[str, str]
    logs: Path
    consumer_group_prefix: str
    processes: dict[str, subprocess.Popen[bytes]]

    @property
    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}

    def exited(self) -> dict[str, int]:
        """Services whose process has ended meanwhile, with their exit status."""
        return {
            name: code
            for name, process in self.processes.items()
            if (code := process.poll()) is not None
        }


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not log.is_file():
        return "(no log)"
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(tail) if tail else "(empty log)"


def log_tails(logs: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The tail of every service's log, for a failure message."""
    return "\n".join(
        f"----- {log.name} (last lines)\n{log_tail(log, lines)}"
        for log in sorted(logs.glob("*.log"))
    )


async def start_groups_at_the_end(
    bootstrap: str, prefix: str, services: Sequence[str] = SERVICES
) -> None:
    """Fresh groups would first read the shared topics' whole history (other tests',
    benchmarks', a running platform's). As an operator would with `kafka-consumer-groups
    --reset-offsets --to-latest`, start each group at the end: the work comes later.

    (Audit keeps its own positions in its ledger and seals the topics from the start.)"""
    for name in services:
        module = importlib.import_module(f"salur_{name}.bootstrap")
        spec: ServiceSpec | None = getattr(module, "SPEC", None)
        for consumer_spec in spec.consumers if spec is not None else ():
            await start_group_at_end(
                bootstrap, prefix + consumer_spec.group, list(consumer_spec.topics)
            )


@contextmanager
def running_platform(
    *,
    postgres_admin_url: str,
    kafka_bootstrap_servers: str,
    jwks_path: Path,
    logs: Path,
    audit_signing_key: Path,
    audit_checkpoint_topic: str,
    traces: Path | None = None,
    database_prefix: str = "platform",
    group_prefix: str = "platform",
    extra_env: Mapping[str, Mapping[str, str]] | None = None,
    services: Sequence[str] = SERVICES,
    ready_seconds: float = READY_SECONDS,
) -> Iterator[RunningPlatform]:
    """Start `services`, wait until each answers `/readyz` 200, yield them, then stop every
    process (SIGTERM, then SIGKILL) before its database is dropped.

    `extra_env` adds variables per service name (e.g. the audit checkpoint interval)."""
    logs.mkdir(parents=True, exist_ok=True)
    prefix = f"{group_prefix}-{uuid.uuid4().hex[:8]}-"
    asyncio.run(
        asyncio.wait_for(
            start_groups_at_the_end(kafka_bootstrap_servers, prefix, services),
            GROUP_START_SECONDS,
        )
    )
    urls: dict[str, str] = {}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    database_urls: dict[str, str] = {}
    with ExitStack() as stack:
        for name in services:
            # Entered before its process, so the process stops before its database goes.
            database_url = stack.enter_context(
                scratch_database(postgres_admin_url, database_prefix)
            )
            port = free_port()
            env = os.environ | {
                "SALUR_SERVICE": name,
                "SALUR_ENV": "development",
                "HTTP_PORT": str(port),
                "DATABASE_URL": database_url,
                "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
                "SALUR_JWKS_PATH": str(jwks_path),
                "SALUR_CONSUMER_GROUP_PREFIX": prefix,
            }
            if traces is not None:
                env["SALUR_TRACES_DIR"] = str(traces)
            if name == "audit":
                env |= {
                    "SALUR_AUDIT_SIGNING_KEY": str(audit_signing_key),
                    "SALUR_AUDIT_CHECKPOINT_TOPIC": audit_checkpoint_topic,
                }
            env |= dict((extra_env or {}).get(name, {}))
            processes[name] = _start(name, env, logs / f"{name}.log")
            stack.callback(_stop, processes[name])
            urls[name] = f"http://127.0.0.1:{port}"
            database_urls[name] = database_url
        _wait_ready(processes, urls, logs, ready_seconds)
        yield RunningPlatform(
            urls=urls,
            database_urls=database_urls,
            logs=logs,
            consumer_group_prefix=prefix,
            processes=processes,
        )


def _start(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", f"salur_{name}"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn's graceful shutdown), then SIGKILL if it takes too long."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(
    processes: dict[str, subprocess.Popen[bytes]],
    urls: dict[str, str],
    logs: Path,
    ready_seconds: float,
) -> None:
    waiting = set(processes)
    deadline = time.monotonic() + ready_seconds
    while waiting and time.monotonic() < deadline:
        for name in sorted(waiting):
            if processes[name].poll() is not None:
                raise PlatformStartError(
                    f"{name} exited with {processes[name].returncode} before it was ready;"
                    f" its log ends:\n{log_tail(logs / f'{name}.log')}"
                )
            try:
                if httpx.get(f"{urls[name]}/readyz", timeout=5).status_code == 200:
                    waiting.discard(name)
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    if waiting:
        tails = "\n".join(
            f"----- {name}.log\n{log_tail(logs / f'{name}.log')}" for name in sorted(waiting)
        )
        raise PlatformStartError(
            f"not ready within {ready_seconds:.0f}s: {', '.join(sorted(waiting))}\n{tails}"
        )
