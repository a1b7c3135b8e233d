"""Create Salur's Kafka topics from infra/topics.yaml, idempotently.

Run it:  uv run python infra/topics.py [--bootstrap 127.0.0.1:9092] [--wait 60]

Missing topics are created; existing ones are left alone except that declared configs that
differ are altered back and a declared partition count higher than the current one is
added (Kafka cannot remove partitions; that case is only reported).

Import it (the test fixtures load this file by path; it needs only aiokafka and PyYAML):

- ``ensure_topics(bootstrap) -> None``: synchronous; safe to call with or without a running
  event loop (inside one it runs on a helper thread). ``ensure_topics_async`` is the coroutine.
- ``create_topic(bootstrap, name, partitions=3) -> None`` / ``delete_topic(bootstrap, name)``:
  helpers for tests that want a private topic; both wait until the change is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

TOPICS_FILE = Path(__file__).with_name("topics.yaml")
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
_TOPIC_ALREADY_EXISTS = 36
_UNKNOWN_TOPIC = 3

T = TypeVar("T")
Log = Callable[[str], None]


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int = 1
    config: dict[str, str] = field(default_factory=dict)


def load_topics(path: Path = TOPICS_FILE) -> list[TopicSpec]:
    """The declared topics, with the file's defaults applied."""
    document = yaml.safe_load(path.read_text())
    defaults = document.get("defaults", {})
    specs: list[TopicSpec] = []
    for entry in document["topics"]:
        config = {**defaults.get("config", {}), **entry.get("config", {})}
        specs.append(
            TopicSpec(
                name=str(entry["name"]),
                partitions=int(entry["partitions"]),
                replication_factor=int(
                    entry.get("replication_factor", defaults.get("replication_factor", 1))
                ),
                config={str(key): str(value) for key, value in config.items()},
            )
        )
    return specs


def _quiet(_: str) -> None:
    pass


async def _with_admin(
    bootstrap: str, action: Callable[[Any], Awaitable[T]], *, wait_seconds: float = 30.0
) -> T:
    """Connect (retrying until `wait_seconds` pass), run `action(admin)`, close."""
    deadline = time.monotonic() + wait_seconds
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
        try:
            await admin.start()
            await admin.describe_cluster()  # a metadata round trip: the broker answers
        except Exception as error:
            await admin.close()
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"Kafka at {bootstrap} did not answer within {wait_seconds:.0f}s: {error!r}"
                ) from error
            await asyncio.sleep(0.5)
            continue
        try:
            return await action(admin)
        finally:
            await admin.close()


def _errors(response: Any) -> list[tuple[str, int, str]]:
    return [(str(entry[0]), int(entry[1]), str(entry[2] or "")) for entry in response.topic_errors]


def _settled(topic: dict[str, Any], present: bool) -> bool:
    if not present:
        return bool(topic["error_code"] == _UNKNOWN_TOPIC)
    partitions = topic["partitions"]
    return (
        topic["error_code"] == 0 and bool(partitions) and all(p["leader"] >= 0 for p in partitions)
    )


async def _wait_visible(admin: Any, names: list[str], *, present: bool = True) -> None:
    """Wait until every topic has a leader for all partitions (or, `present=False`, is gone)."""
    deadline = time.monotonic() + 30
    while names:
        settled = {t["topic"] for t in await admin.describe_topics(names) if _settled(t, present)}
        names = [name for name in names if name not in settled]
        if names and time.monotonic() > deadline:
            raise TimeoutError(f"topics not {'ready' if present else 'deleted'}: {names}")
        if names:
            await asyncio.sleep(0.2)


async def _current_configs(admin: Any, names: list[str]) -> dict[str, dict[str, str]]:
    if not names:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    result: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.resources:
            # (error_code, error_message, resource_type, resource_name, config_entries)
            result[str(resource[3])] = {str(entry[0]): str(entry[1]) for entry in resource[4]}
    return result


async def ensure_topics_async(
    bootstrap: str,
    specs: list[TopicSpec] | None = None,
    *,
    wait_seconds: float = 30.0,
    log: Log = _quiet,
) -> None:
    """Create missing topics and repair drifted ones; `log` receives one line per action."""
    wanted = load_topics() if specs is None else specs

    async def action(admin: Any) -> None:
        existing = set(await admin.list_topics())
        missing = [spec for spec in wanted if spec.name not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name=spec.name,
                        num_partitions=spec.partitions,
                        replication_factor=spec.replication_factor,
                        topic_configs=spec.config,
                    )
                    for spec in missing
                ]
            )
            for name, code, message in _errors(response):
                if code == _TOPIC_ALREADY_EXISTS:
                    log(f"exists   {name} (created concurrently)")
                elif code:
                    raise RuntimeError(f"could not create topic {name}: error {code} {message}")
                else:
                    log(f"created  {name}")
            await _wait_visible(admin, [spec.name for spec in missing])

        present = [spec for spec in wanted if spec.name in existing]
        if not present:
            return
        described = {t["topic"]: t for t in await admin.describe_topics([s.name for s in present])}
        configs = await _current_configs(admin, [spec.name for spec in present])
        for spec in present:
            have = len(described[spec.name]["partitions"])
            if have < spec.partitions:
                await admin.create_partitions({spec.name: NewPartitions(spec.partitions)})
                log(f"altered  {spec.name}: partitions {have} -> {spec.partitions}")
            elif have > spec.partitions:
                log(f"WARNING  {spec.name} has {have} partitions, declared {spec.partitions}")
            drift = {
                key: value
                for key, value in spec.config.items()
                if configs.get(spec.name, {}).get(key) != value
            }
            if drift:
                # AlterConfigs is not incremental: it sets the topic's overrides to exactly
                # the declared set, which is what topics.yaml means.
                await admin.alter_configs(
                    [ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=spec.config)]
                )
                log(f"altered  {spec.name}: {drift}")
            else:
                log(f"ok       {spec.name}")

    async def warm_up(admin: Any) -> None:
        await action(admin)
        await _wait_for_group_coordinator(admin)

    await _with_admin(bootstrap, warm_up, wait_seconds=wait_seconds)


async def _wait_for_group_coordinator(admin: Any) -> None:
    """On a fresh broker the first group lookup creates __consumer_offsets; do it here, so
    the first consumer in a test does not see GroupCoordinatorNotAvailable."""
    deadline = time.monotonic() + 30
    while True:
        try:
            await admin.find_coordinator("salur-infra-warm-up")
            return
        except Exception as error:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no group coordinator after 30s: {error!r}") from error
            await asyncio.sleep(0.2)


async def create_topic_async(
    bootstrap: str, name: str, partitions: int = 3, config: dict[str, str] | None = None
) -> None:
    """Create one topic (replication factor 1) and wait until it has leaders."""
    spec = TopicSpec(name=name, partitions=partitions, config=config or {})
    await ensure_topics_async(bootstrap, [spec])


async def delete_topic_async(bootstrap: str, name: str) -> None:
    async def action(admin: Any) -> None:
        await admin.delete_topics([name])
        await _wait_visible(admin, [name], present=False)

    await _with_admin(bootstrap, action)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def ensure_topics(bootstrap: str) -> None:
    """Synchronous `ensure_topics_async` for every topic in topics.yaml."""
    _run(ensure_topics_async(bootstrap))


def create_topic(bootstrap: str, name: str, partitions: int = 3) -> None:
    _run(create_topic_async(bootstrap, name, partitions))


def delete_topic(bootstrap: str, name: str) -> None:
    _run(delete_topic_async(bootstrap, name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--bootstrap",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP),
        help="host:port (default $KAFKA_BOOTSTRAP_SERVERS or %(default)s)",
    )
    parser.add_argument("--file", type=Path, default=TOPICS_FILE, help="topics YAML file")
    parser.add_argument(
        "--wait", type=float, default=30.0, help="seconds to wait for the broker (default 30)"
    )
    args = parser.parse_args(argv)
    specs = load_topics(args.file)
    try:
        asyncio.run(
            ensure_topics_async(
                args.bootstrap,
                specs,
                wait_seconds=args.wait,
                log=lambda line: print(f"[topics] {line}", flush=True),
            )
        )
    except (TimeoutError, RuntimeError) as error:
        print(f"[topics] ERROR: {error}", file=sys.stderr)
        return 1
    print(f"[topics] {len(specs)} topics in place on {args.bootstrap}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
