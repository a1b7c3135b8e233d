"""Fallback entry point: the registry built *inside* a running event loop.

`python -m salur_registry` calls `salur_kit.runtime.serve`, which builds the API (and so
the `AIOKafkaProducer`) before uvicorn starts a loop; aiokafka 0.14 refuses that with
"The object should be created within an async function". Until the kit fixes it, the
bench runs the same `build_api(SPEC, ServiceSettings())` from within the loop instead:
`python -m benchmarks.serve_registry`, with the same environment variables.
"""

from __future__ import annotations

import asyncio

import uvicorn
from salur_kit import telemetry
from salur_kit.runtime import build_api
from salur_kit.settings import ServiceSettings
from salur_registry.bootstrap import SPEC


async def serve() -> None:
    settings = ServiceSettings()
    telemetry.configure(SPEC.name)
    config = uvicorn.Config(
        build_api(SPEC, settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    asyncio.run(serve())
