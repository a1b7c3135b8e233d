"""Pytest fixtures for real Kafka and Postgres. All are lazy: nothing starts unless requested.

Session fixtures
    kafka_bootstrap_servers -> str   "host:port" of a broker where every topic in
                                     infra/topics.yaml exists.
    postgres_admin_url -> str        URL of the `postgres` database, as a role that may
                                     CREATE DATABASE.
Function fixtures
    fresh_database_url -> str        URL of a new empty database, dropped after the test.
    unique_topic -> str              name of a new 3-partition topic, deleted after the test.
    event_store_env -> Mapping       eventsourcing env: in memory (unit) and Postgres
                                     (integration), so one application test runs twice.
    dev_issuer -> DevIssuer          (module) a token issuer of the test's own.
    callers -> Callers               (module) Authorization headers for each role.

Servers are found in this order:
    1. KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL from the environment (`make test` sets them);
    2. testcontainers (apache/kafka:4.1.1, postgres:15) when a Docker engine answers;
    3. `infra/kafka.sh start` / `infra/postgres.sh start` (idempotent; the servers keep running).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from salur_kit.devtokens import DevIssuer, ensure_issuer
from salur_kit.eventstore import memory_env, postgres_env
from salur_kit.testing.callers import Callers
from salur_kit.testing.databases import scratch_database
from salur_kit.testing.ports import free_port

KAFKA_IMAGE = "apache/kafka:4.1.1"
POSTGRES_IMAGE = "postgres:15"
SERVICE_DATABASES = (
    "salur_registry",
    "salur_planning",
    "salur_opportunities",
    "salur_matching",
    "salur_partnerships",
    "salur_audit",
)


def _repo_root(config: pytest.Config) -> Path:
    for candidate in (config.rootpath, *config.rootpath.parents):
        if (candidate / "infra" / "topics.py").is_file():
            return candidate
    pytest.fail(f"infra/topics.py not found above {config.rootpath}; run pytest in the repo")


@cache
def _topics(root: Path) -> ModuleType:
    """infra/topics.py, loaded by path (infra/ is not a package)."""
    spec = importlib.util.spec_from_file_location("salur_infra_topics", root / "infra/topics.py")
    if spec is None or spec.loader is None:
        pytest.fail(f"cannot load {root / 'infra/topics.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while loading
    spec.loader.exec_module(module)
    return module


@cache
def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, timeout=3, check=False)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def _start_script(root: Path, script: str, missing: str) -> None:
    """Run `infra/<script> start`; fail the session with its output and a hint on error."""
    try:
        result = subprocess.run(
            ["bash", str(root / "infra" / script), "start"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"infra/{script} start did not finish within 15 minutes")
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
        pytest.fail(
            f"no server for the tests: infra/{script} start failed (exit {result.returncode}).\n"
            f"{tail}\nEither set {missing}, start a Docker engine (testcontainers), "
            "or install what the message above asks for (Java 17 + Maven for Kafka, "
            "the Debian `postgresql` package for Postgres)."
        )


@pytest.fixture(scope="session")
def kafka_bootstrap_servers(pytestconfig: pytest.Config) -> Iterator[str]:
    root = _repo_root(pytestconfig)
    container = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    if not bootstrap and _docker_available():
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.wait_strategies import LogMessageWaitStrategy

        # testcontainers' KafkaContainer drives Confluent images only; apache/kafka is
        # configured through KAFKA_* variables, advertised on a host port chosen here.
        port = free_port()
        container = DockerContainer(KAFKA_IMAGE).with_bind_ports(9092, port)
        for key, value in {
            "CLUSTER_ID": "5L6g3nShT-eMCtK--X86sw",
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
            "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://localhost:{port}",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        }.items():
            container.with_env(key, value)
        container.start()
        LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(120).wait_until_ready(
            container
        )
        bootstrap = f"localhost:{port}"
    elif not bootstrap:
        _start_script(root, "kafka.sh", "KAFKA_BOOTSTRAP_SERVERS")
        bootstrap = f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"
    try:
        _topics(root).ensure_topics(bootstrap)
    except TimeoutError as error:
        pytest.fail(f"Kafka at {bootstrap} does not answer: {error}")
    try:
        yield bootstrap
    finally:
        if container is not None:
            container.stop()


def _check_connect(url: str) -> None:
    try:
        with psycopg.connect(url, connect_timeout=10):
            pass
    except psycopg.OperationalError as error:
        pytest.fail(f"Postgres at {url} does not accept connections: {error}")


@pytest.fixture(scope="session")
def postgres_admin_url(pytestconfig: pytest.Config) -> Iterator[str]:
    root = _repo_root(pytestconfig)
    container = None
    url = os.environ.get("DATABASE_URL", "")
    if not url and _docker_available():
        from testcontainers.community.postgres import PostgresContainer

        container = PostgresContainer(
            POSTGRES_IMAGE, username="salur", password="salur", dbname="postgres", driver=None
        )
        container.start()
        url = str(container.get_connection_url())
        with psycopg.connect(url, autocommit=True) as admin:
            for name in SERVICE_DATABASES:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    elif not url:
        _start_script(root, "postgres.sh", "DATABASE_URL")
        url = f"postgresql://salur:salur@127.0.0.1:{os.environ.get('PG_PORT', '55432')}/postgres"
    _check_connect(url)
    try:
        yield url
    finally:
        if container is not None:
            container.stop()


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.integration),
    ]
)
def event_store_env(request: pytest.FixtureRequest) -> Mapping[str, str]:
    """The same application test, once in memory and once on real Postgres."""
    if request.param == "memory":
        return memory_env()
    return postgres_env(request.getfixturevalue("fresh_database_url"))


@pytest.fixture(scope="module")
def dev_issuer(tmp_path_factory: pytest.TempPathFactory) -> DevIssuer:
    """A token issuer of the test's own, trusted by services built with its JWKS."""
    return ensure_issuer(Path(tmp_path_factory.mktemp("issuer")))


@pytest.fixture(scope="module")
def callers(dev_issuer: DevIssuer) -> Callers:
    """Authorization headers for a facilitator, an operator, an officer, an auditor."""
    return Callers(dev_issuer)


@pytest.fixture
def fresh_database_url(postgres_admin_url: str) -> Iterator[str]:
    with scratch_database(postgres_admin_url) as url:
        yield url


@pytest.fixture
def unique_topic(kafka_bootstrap_servers: str, pytestconfig: pytest.Config) -> Iterator[str]:
    topics = _topics(_repo_root(pytestconfig))
    name = f"test.{uuid4().hex[:12]}"
    topics.create_topic(kafka_bootstrap_servers, name, 3)
    try:
        yield name
    finally:
        try:
            topics.delete_topic(kafka_bootstrap_servers, name)
        except Exception as error:  # cleanup only: a leftover topic harms nobody
            warnings.warn(f"could not delete test topic {name}: {error!r}", stacklevel=1)
