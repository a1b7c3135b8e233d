"""The registry service as a real, separate process, stopped afterwards whatever happens."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from salur_kit.testing.ports import free_port

STOP_GRACE_SECONDS = 25.0
ENTRY_POINT = "salur_registry"


class ServiceExitedError(RuntimeError):
    """The process ended before it answered `/readyz` with 200."""


@dataclass(frozen=True)
class RunningService:
    base_url: str
    pid: int
    log_path: Path
    started_in_seconds: float


def service_env(*, port: int, database_url: str, bootstrap: str, jwks_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SALUR_SERVICE": "registry",
        "SALUR_ENV": "development",
        "HTTP_PORT": str(port),
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SALUR_JWKS_PATH": str(jwks_path),
    }


@contextlib.asynccontextmanager
async def registry_process(
    *,
    database_url: str,
    bootstrap: str,
    jwks_path: Path,
    log_path: Path,
    module: str = ENTRY_POINT,
    ready_timeout_seconds: float = 60.0,
) -> AsyncIterator[RunningService]:
    """Start `python -m <module>`, wait for `/readyz` 200, and stop it on the way out."""
    port = free_port()
    env = service_env(
        port=port, database_url=database_url, bootstrap=bootstrap, jwks_path=jwks_path
    )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, env=env, stdout=log, stderr=log
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            await _wait_ready(base_url, process, log_path, ready_timeout_seconds)
            yield RunningService(base_url, process.pid, log_path, time.perf_counter() - started)
        finally:
            await _stop(process)


@contextlib.asynccontextmanager
async def replica_processes(
    count: int,
    *,
    database_url: str,
    bootstrap: str,
    jwks_path: Path,
    log_path: Path,
    module: str = ENTRY_POINT,
    progress: Callable[[str], None],
) -> AsyncIterator[list[str]]:
    """`count` processes of one service on one database (its replicas), started one after
    the other; their base URLs. The first logs to `log_path`, replica n to `<stem>.n.log`."""
    async with contextlib.AsyncExitStack() as stack:
        urls = []
        for replica in range(count):
            service = await stack.enter_async_context(
                registry_process(
                    database_url=database_url,
                    bootstrap=bootstrap,
                    jwks_path=jwks_path,
                    log_path=log_path.with_suffix(f".{replica}.log") if replica else log_path,
                    module=module,
                )
            )
            progress(
                f"{module} replica {replica} pid {service.pid} ready at {service.base_url}"
                f" in {service.started_in_seconds:.1f}s"
            )
            urls.append(service.base_url)
        yield urls


async def _wait_ready(
    base_url: str, process: asyncio.subprocess.Process, log_path: Path, wait_seconds: float
) -> None:
    deadline = time.monotonic() + wait_seconds
    async with httpx.AsyncClient(base_url=base_url, timeout=2.0) as client:
        while True:
            if process.returncode is not None:
                raise ServiceExitedError(
                    f"exited with {process.returncode} before it was ready:"
                    f" {_last_line(log_path)} (see {log_path})"
                )
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the registry was not ready within {wait_seconds:.0f}s; see {log_path}"
                )
            await asyncio.sleep(0.2)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (uvicorn's graceful shutdown), then SIGKILL if it takes too long."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout=STOP_GRACE_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()


def _last_line(log_path: Path) -> str:
    lines = log_path.read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else "(no output)"
