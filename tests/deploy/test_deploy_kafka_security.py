"""Kafka clients authenticate as the deployment says (KAFKA_* variables of deploy/base).

On Kubernetes every service is a Kafka user of its own (SCRAM-SHA-512 over TLS, ACLs per
service); locally nothing is set and the clients speak plaintext, as before.
"""

from __future__ import annotations

import ast
import ssl
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError
from faststream.security import SASLScram512
from pydantic import ValidationError
from salur_kit.kafka import KafkaSecurity, new_broker, new_consumer, new_producer

PRODUCTION = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "salur-registry",
    "KAFKA_SASL_PASSWORD": "not-a-real-password",
}


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in PRODUCTION.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def local_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (*PRODUCTION, "KAFKA_SSL_CAFILE"):
        monkeypatch.delenv(key, raising=False)


@pytest.mark.unit
@pytest.mark.usefixtures("local_env")
async def test_without_settings_the_clients_speak_plaintext() -> None:
    producer = new_producer("127.0.0.1:9092", client_id="t")
    assert producer.client._security_protocol == "PLAINTEXT"
    assert KafkaSecurity().broker_security() is None


@pytest.mark.unit
@pytest.mark.usefixtures("production_env")
async def test_the_producer_and_broker_use_scram_over_tls_with_the_services_user() -> None:
    producer = new_producer("kafka:9093", client_id="t")
    client = producer.client
    assert client._security_protocol == "SASL_SSL"
    assert client._sasl_mechanism == "SCRAM-SHA-512"
    assert client._sasl_plain_username == "salur-registry"
    assert isinstance(client._ssl_context, ssl.SSLContext)
    security = KafkaSecurity().broker_security()
    assert isinstance(security, SASLScram512)
    assert security.use_ssl is True
    assert security.username == "salur-registry"
    assert new_broker("kafka:9093", client_id="t") is not None
    consumer = new_consumer(
        "salur.registry.events.v1", bootstrap_servers="kafka:9093", group_id="g"
    )
    assert consumer._client._security_protocol == "SASL_SSL"
    assert consumer._client._sasl_plain_username == "salur-registry"


@pytest.mark.unit
def test_the_cluster_ca_file_is_trusted(
    production_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(tmp_path / "missing-ca.crt"))
    with pytest.raises(FileNotFoundError):
        KafkaSecurity().client_options()


@pytest.mark.unit
def test_sasl_without_a_password_is_refused_at_start(
    production_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAFKA_SASL_PASSWORD")
    with pytest.raises(ValidationError, match="KAFKA_SASL_PASSWORD"):
        KafkaSecurity()


@pytest.mark.unit
def test_the_password_never_shows_in_the_settings(production_env: None) -> None:
    assert "not-a-real-password" not in repr(KafkaSecurity())


@pytest.mark.integration
async def test_a_sasl_client_really_authenticates_so_a_plaintext_broker_refuses_it(
    kafka_bootstrap_servers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same broker accepts the plaintext client: only the SASL handshake differs.
    monkeypatch.delenv("KAFKA_SECURITY_PROTOCOL", raising=False)
    plain = new_producer(kafka_bootstrap_servers, client_id="t")
    await plain.start()
    await plain.stop()
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "salur-registry")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "not-a-real-password")
    producer = new_producer(kafka_bootstrap_servers, client_id="t")
    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        await producer.start()
    await producer.stop()


KAFKA_CLIENTS = {"AIOKafkaConsumer", "AIOKafkaProducer", "AIOKafkaAdminClient", "KafkaBroker"}
SOURCES = Path(__file__).resolve().parents[2] / "services"


def unauthenticated_clients(source: str) -> list[int]:
    """Lines where a Kafka client is built without `**<KafkaSecurity>.client_options()`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in KAFKA_CLIENTS:
            continue
        spread = [k.value for k in node.keywords if k.arg is None]
        if not any(
            isinstance(v, ast.Call) and getattr(v.func, "attr", None) == "client_options"
            for v in spread
        ):
            found.append(node.lineno)
    return found


@pytest.mark.unit
def test_every_kafka_client_of_the_services_authenticates_as_the_deployment_says() -> None:
    # Test helpers (testing.py, testing/) talk to the local plaintext broker only; the kit's
    # kafka module is where clients are built from KafkaSecurity (checked above).
    offenders = {
        str(path.relative_to(SOURCES)): lines
        for path in sorted(SOURCES.glob("*/src/**/*.py"))
        if path.name != "testing.py"
        and "testing" not in path.parts
        and path != SOURCES / "kit/src/salur_kit/kafka.py"
        and (lines := unauthenticated_clients(path.read_text()))
    }
    assert not offenders, f"Kafka clients that ignore KAFKA_SECURITY_PROTOCOL: {offenders}"
    assert unauthenticated_clients("AIOKafkaConsumer('t', bootstrap_servers='b')") == [1]


@pytest.mark.integration
async def test_audit_reads_the_topics_as_its_kafka_user(
    kafka_bootstrap_servers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Audit's sequencer and verify read whole topics with a consumer of their own; on the
    # cluster that consumer must authenticate like every other client, or audit cannot start.
    from salur_audit.kafka_io import read_to_end

    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "salur-audit")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "not-a-real-password")
    reading = read_to_end(kafka_bootstrap_servers, ["salur.registry.events.v1"])
    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        await anext(reading)
