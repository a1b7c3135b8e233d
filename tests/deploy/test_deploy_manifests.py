"""The Kubernetes manifests, as kustomize renders them for each overlay, checked offline.

Every rendered resource validates against the Kubernetes schemas (kubernetes-validate) or,
for Strimzi and CloudNativePG resources, against the operators' published CRD schemas kept
in deploy/schemas (deploy/schemas/fetch.py re-fetches them; deploy_crd_schema applies them
as the API server does); then the properties a deployment engineer relies on are asserted: the
restricted Pod Security profile, probes and limits, default-deny networking, Kafka ACLs
per the consume/produce table, and no secret values in the repository.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import deploy_crd_schema
import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("local", "production")
# The oldest Kubernetes release the manifests support (preStop `sleep` is beta in 1.30)
# and the newest one kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())

SERVICES = {
    "registry": 8001,
    "planning": 8002,
    "opportunities": 8003,
    "matching": 8004,
    "partnerships": 8005,
    "audit": 8006,
}
# Who reads whom (consumer group = service name), as the deploy/README.md table says;
# test_the_acl_table_is_what_the_services_subscribe_to holds it to the services' code.
CONSUMES = {
    "registry": [],
    "planning": ["registry", "matching", "partnerships"],
    "opportunities": ["registry", "partnerships"],
    "matching": ["registry", "planning", "opportunities"],
    "partnerships": ["registry", "planning", "opportunities", "matching"],
    "audit": ["registry", "planning", "opportunities", "matching", "partnerships"],
}
# Services that also read the topic they write: matching's rebuild replays its own history,
# audit's sequencer reads the checkpoints it published before at every start.
READS_OWN_TOPIC = {"matching", "audit"}
PUBLIC_TOPIC = "salur.partnerships.events.v1"
# Audit appends to its ledger as a second, insert-only role, and signs with its own key.
AUDIT_SECRETS = {"audit": {"salur-db-audit-writer"}}
AUDIT_WRITER_ROLE = "salur_audit_writer"
CRD_SCHEMAS = {
    ("kafka.strimzi.io/v1beta2", "Kafka"): "kafka.strimzi.io_v1beta2_kafka.json",
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): "kafka.strimzi.io_v1beta2_kafkanodepool.json",
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "kafka.strimzi.io_v1beta2_kafkatopic.json",
    ("kafka.strimzi.io/v1beta2", "KafkaUser"): "kafka.strimzi.io_v1beta2_kafkauser.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "postgresql.cnpg.io_v1_cluster.json",
    ("postgresql.cnpg.io/v1", "Database"): "postgresql.cnpg.io_v1_database.json",
}
Resource = dict[str, Any]


@cache
def kustomize() -> str:
    """The pinned kustomize, installed into .cache/go-bin on first use (deploy/tools.sh)."""
    found = subprocess.run(
        [str(DEPLOY / "tools.sh"), "kustomize"], capture_output=True, text=True, check=True
    )
    return found.stdout.strip()


@cache
def render(overlay: str) -> tuple[Resource, ...]:
    built = subprocess.run(
        [kustomize(), "build", str(DEPLOY / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    return tuple(doc for doc in yaml.safe_load_all(built.stdout) if doc)


def of_kind(overlay: str, kind: str) -> list[Resource]:
    return [r for r in render(overlay) if r["kind"] == kind]


def named(overlay: str, kind: str, name: str) -> Resource:
    (found,) = [r for r in of_kind(overlay, kind) if r["metadata"]["name"] == name]
    return found


def containers(overlay: str) -> Iterator[tuple[str, Resource, Resource]]:
    """(deployment name, pod spec, container) for every container of every Deployment."""
    for deployment in of_kind(overlay, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            yield deployment["metadata"]["name"], pod, container


@cache
def crd_schema(api_version: str, kind: str) -> Resource:
    """The operator's published schema of that kind, as deploy/schemas/fetch.py stored it."""
    document: Resource = json.loads(
        (DEPLOY / "schemas" / CRD_SCHEMAS[(api_version, kind)]).read_text()
    )
    return document


def crd_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    return deploy_crd_schema.validator(crd_schema(api_version, kind))


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- rendering and schemas ------------------------------------------------------------


def test_every_overlay_renders_all_six_services_with_kafka_and_postgres(overlay: str) -> None:
    kinds = {r["kind"] for r in render(overlay)}
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Cluster", "Database"} <= kinds
    for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"):
        names = {r["metadata"]["name"] for r in of_kind(overlay, kind)}
        assert names == {f"salur-{s}" for s in SERVICES}, kind
    assert {
        r["metadata"].get("namespace") for r in render(overlay) if r["kind"] != "Namespace"
    } == {"salur"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_kubernetes_resource_validates_against_the_kubernetes_schema(
    overlay: str, version: str
) -> None:
    checked = 0
    for resource in render(overlay):
        if (resource["apiVersion"], resource["kind"]) in CRD_SCHEMAS:
            continue
        kubernetes_validate.validate(resource, version, strict=True)
        checked += 1
    assert checked >= 6 * 5


def test_every_custom_resource_validates_against_its_published_crd_schema(overlay: str) -> None:
    custom = [r for r in render(overlay) if (r["apiVersion"], r["kind"]) in CRD_SCHEMAS]
    unknown = {
        (r["apiVersion"], r["kind"])
        for r in render(overlay)
        if r["apiVersion"].split("/")[0].endswith((".strimzi.io", ".cnpg.io"))
    } - set(CRD_SCHEMAS)
    assert not unknown, f"custom resources without a schema in deploy/schemas: {unknown}"
    for resource in custom:
        errors = list(crd_validator(resource["apiVersion"], resource["kind"]).iter_errors(resource))
        assert not errors, (resource["metadata"]["name"], [e.message for e in errors])


def test_the_kubernetes_validation_refuses_a_misspelt_field() -> None:
    deployment = json.loads(json.dumps(named("production", "Deployment", "salur-registry")))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize(
    ("kind", "name", "path", "bad"),
    [
        ("KafkaUser", "salur-planning", ("authorization", "acls", 0, "operations", 0), "Wrote"),
        ("KafkaUser", "salur-planning", ("authentication", "type"), "plain"),
        ("KafkaTopic", "salur-registry-events-v1", ("partitions",), 0),
        ("Kafka", "salur", ("kafka", "listeners", 0, "name"), "TLS-Listener"),
        ("Cluster", "salur-postgres", ("instances",), 0),
        ("Database", "salur-audit", ("name",), "postgres"),
        # wrong types
        ("KafkaTopic", "salur-registry-events-v1", ("replicas",), "3"),
        ("KafkaNodePool", "dual-role", ("replicas",), "three"),
        ("Kafka", "salur", ("kafka", "listeners", 0, "port"), "9093"),
        ("Cluster", "salur-postgres", ("storage", "size"), 50),
        ("Cluster", "salur-postgres", ("postgresql", "parameters", "max_connections"), 500),
        ("Database", "salur-audit", ("cluster",), "salur-postgres"),
    ],
)
def test_the_crd_schemas_refuse_a_wrong_value(
    kind: str, name: str, path: tuple[str | int, ...], bad: object
) -> None:
    resource = json.loads(json.dumps(named("production", kind, name)))
    target = resource["spec"]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = bad
    validator = crd_validator(resource["apiVersion"], kind)
    assert list(validator.iter_errors(resource)), f"{kind} accepted {path}={bad!r}"


@pytest.mark.parametrize(
    ("kind", "name", "path", "misspelt"),
    [
        ("KafkaUser", "salur-audit", ("authorization",), ("acls", "acl")),
        ("KafkaTopic", "salur-registry-events-v1", (), ("partitions", "partition")),
        ("Kafka", "salur", ("kafka",), ("listeners", "listener")),
        ("KafkaNodePool", "dual-role", (), ("roles", "role")),
        ("Cluster", "salur-postgres", ("postgresql",), ("parameters", "parameter")),
        ("Database", "salur-audit", (), ("databaseReclaimPolicy", "reclaimPolicy")),
    ],
)
def test_the_crd_schemas_refuse_a_field_they_do_not_know(
    kind: str, name: str, path: tuple[str, ...], misspelt: tuple[str, str]
) -> None:
    # The published schemas declare no additionalProperties there: the API server's strict
    # field validation (kubectl's default) refuses the misspelt field instead of pruning it.
    resource = json.loads(json.dumps(named("production", kind, name)))
    target = resource["spec"]
    for step in path:
        target = target[step]
    right, wrong = misspelt
    target[wrong] = target.pop(right)
    messages = [
        e.message for e in crd_validator(resource["apiVersion"], kind).iter_errors(resource)
    ]
    assert any(f"'{wrong}' was unexpected" in m for m in messages), messages


def test_the_crd_schemas_accept_any_key_where_the_operator_preserves_unknown_fields() -> None:
    # Kafka and topic settings are free-form in the published schemas
    # (x-kubernetes-preserve-unknown-fields); the operator checks them itself.
    topic = json.loads(json.dumps(named("production", "KafkaTopic", "salur-registry-events-v1")))
    topic["spec"].setdefault("config", {})["segment.bytes"] = 1073741824
    kafka = json.loads(json.dumps(named("production", "Kafka", "salur")))
    kafka["spec"]["kafka"].setdefault("config", {})["auto.create.topics.enable"] = False
    for resource in (topic, kafka):
        validator = crd_validator(resource["apiVersion"], resource["kind"])
        assert not list(validator.iter_errors(resource)), resource["kind"]


def test_the_crd_schemas_are_the_operators_published_ones_at_the_readme_pins() -> None:
    readme = (DEPLOY / "README.md").read_text()
    (helm,) = [ln for ln in readme.splitlines() if "helm install strimzi" in ln]
    strimzi = re.search(r"--version (\d+\.\d+\.\d+)", helm)
    cnpg = re.search(r"CloudNativePG\*\* (\d+\.\d+) or newer", readme)
    assert strimzi, "deploy/README.md pins the Strimzi chart"
    assert cnpg, "deploy/README.md names the oldest CloudNativePG release it supports"
    for (api_version, kind), file in CRD_SCHEMAS.items():
        source = crd_schema(api_version, kind)["source"]
        assert f"{source['group']}/{source['version']}" == api_version, file
        assert source["kind"] == kind, file
        assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"]), file
        if source["group"] == "kafka.strimzi.io":
            assert source["artifact"] == f"io.strimzi:api:{strimzi[1]}:jar:tests", file
        else:
            # The oldest release the README supports, so no newer field slips in.
            module = "github.com/cloudnative-pg/cloudnative-pg"
            assert source["artifact"].startswith(f"{module}@v{cnpg[1]}."), file


# --- pods -----------------------------------------------------------------------------


def test_every_container_meets_the_restricted_pod_security_profile(overlay: str) -> None:
    seen = 0
    for name, pod, container in containers(overlay):
        ctx = container["securityContext"]
        assert ctx["runAsNonRoot"] is True, name
        assert ctx["runAsUser"] > 0, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert ctx["readOnlyRootFilesystem"] is True, name
        assert ctx["allowPrivilegeEscalation"] is False, name
        assert ctx.get("privileged", False) is False, name
        assert ctx["capabilities"]["drop"] == ["ALL"], name
        assert not ctx["capabilities"].get("add"), name
        assert ctx["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), (
            f"{name} shares a host namespace"
        )
        assert all("hostPath" not in v for v in pod.get("volumes", [])), name
        assert pod["automountServiceAccountToken"] is False, "services never call the API"
        seen += 1
    assert seen == len(SERVICES)


def test_the_namespace_enforces_the_restricted_profile(overlay: str) -> None:
    (namespace,) = of_kind(overlay, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_readme_installs_strimzi_so_its_pods_pass_the_restricted_namespace() -> None:
    # Strimzi's default pod security provider is "baseline"; the namespace enforces
    # "restricted", so the Kafka pods start only with the restricted provider.
    readme = (DEPLOY / "README.md").read_text()
    assert "extraEnvs[0].name=STRIMZI_POD_SECURITY_PROVIDER_CLASS" in readme
    assert "extraEnvs[0].value=restricted" in readme


def test_the_readme_pins_a_strimzi_release_that_serves_the_manifests_api() -> None:
    # Strimzi 1.0 dropped v1beta2 (only v1 is served); 0.51 is the last to serve both.
    strimzi = {r["apiVersion"] for r in render("production") if ".strimzi.io/" in r["apiVersion"]}
    assert strimzi == {"kafka.strimzi.io/v1beta2"}
    readme = (DEPLOY / "README.md").read_text()
    (line,) = [ln for ln in readme.splitlines() if "helm install strimzi" in ln]
    found = re.search(r"--version (\d+)\.(\d+)\.(\d+)", line)
    assert found, "the Strimzi chart version is pinned"
    assert (int(found[1]), int(found[2])) <= (0, 51)


def test_every_container_has_probes_requests_and_limits(overlay: str) -> None:
    for name, _, container in containers(overlay):
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz", name
        for part in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][part]), (name, part)


def test_each_service_runs_on_its_port_with_its_own_database_and_kafka_user(overlay: str) -> None:
    for service, port in SERVICES.items():
        name = f"salur-{service}"
        config = named(overlay, "ConfigMap", name)["data"]
        assert config["SALUR_SERVICE"] == service
        assert config["HTTP_PORT"] == str(port)
        assert config["HTTP_HOST"] == "0.0.0.0"
        assert config["DATABASE_NAME"] == f"salur_{service}"
        assert config["KAFKA_SASL_USERNAME"] == name
        (container,) = named(overlay, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        secrets = {
            e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e
        }
        assert secrets == {f"salur-db-{service}", name} | AUDIT_SECRETS.get(service, set())
        (svc_port,) = named(overlay, "Service", name)["spec"]["ports"]
        assert svc_port["port"] == port
        assert svc_port["targetPort"] == "http"


def settings_read() -> set[str]:
    """The environment variables the services read through their settings classes."""
    from pydantic_settings import BaseSettings
    from salur_audit.settings import AuditSettings
    from salur_kit.kafka import KafkaSecurity
    from salur_kit.settings import ServiceSettings

    classes: list[type[BaseSettings]] = [ServiceSettings, KafkaSecurity, AuditSettings]
    return {
        str(field.validation_alias)
        for cls in classes
        for field in cls.model_fields.values()
        if field.validation_alias
    }


# libpq reads these itself (psycopg passes the environment through).
LIBPQ = {"PGSSLMODE", "PGSSLROOTCERT"}


def test_every_variable_given_to_a_container_is_one_the_service_reads(overlay: str) -> None:
    read = settings_read() | LIBPQ
    config_maps = {c["metadata"]["name"]: c["data"] for c in of_kind(overlay, "ConfigMap")}
    for name, _, container in containers(overlay):
        given = {
            k for ref in container["envFrom"] for k in config_maps[ref["configMapRef"]["name"]]
        }
        given |= {e["name"] for e in container["env"]}
        # Variables only composed into others, e.g. DATABASE_URL from $(DATABASE_HOST).
        composed = {
            var for e in container["env"] for var in re.findall(r"\$\((\w+)\)", e.get("value", ""))
        }
        assert composed <= given, (name, composed - given)
        assert not given - read - composed, (name, sorted(given - read - composed))
        assert {"SALUR_SERVICE", "DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "HTTP_PORT"} <= given


def uvicorn_shutdown_seconds() -> int:
    """The graceful-shutdown timeout the kit's `serve` gives uvicorn."""
    source = (ROOT / "services/kit/src/salur_kit/runtime.py").read_text()
    found = re.search(r"timeout_graceful_shutdown=(\d+)", source)
    assert found, "salur_kit.runtime.serve no longer sets timeout_graceful_shutdown"
    return int(found[1])


def test_the_termination_grace_period_outlasts_a_graceful_shutdown(overlay: str) -> None:
    # preStop delay (endpoints are removed first), then uvicorn drains requests, then the
    # relay, projections and consumers stop and commit; 10 s covers that last part.
    background_stop = 10
    for name, pod, container in containers(overlay):
        pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        needed = pre_stop + uvicorn_shutdown_seconds() + background_stop
        assert pod["terminationGracePeriodSeconds"] > needed, name


def test_autoscaling_never_runs_more_consumers_than_partitions(overlay: str) -> None:
    partitions = {
        t["spec"]["topicName"]: t["spec"]["partitions"] for t in of_kind(overlay, "KafkaTopic")
    }
    for hpa in of_kind(overlay, "HorizontalPodAutoscaler"):
        service = hpa["spec"]["scaleTargetRef"]["name"].removeprefix("salur-")
        read = [partitions[f"salur.{up}.events.v1"] for up in CONSUMES[service]] or [6]
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= min(read)
    # The audit ledger is one ordered stream: never autoscaled.
    assert "salur-audit" not in {
        h["metadata"]["name"] for h in of_kind(overlay, "HorizontalPodAutoscaler")
    }


def test_a_disruption_budget_keeps_each_service_available(overlay: str) -> None:
    for pdb in of_kind(overlay, "PodDisruptionBudget"):
        deployment = named(overlay, "Deployment", pdb["metadata"]["name"])
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert pdb["spec"]["maxUnavailable"] == 1


# --- network --------------------------------------------------------------------------


def test_the_namespace_denies_all_traffic_by_default(overlay: str) -> None:
    deny = named(overlay, "NetworkPolicy", "default-deny-all")["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert not deny.get("ingress")
    assert not deny.get("egress")


def ports(rule: Resource) -> set[tuple[str, int]]:
    return {(p["protocol"], p["port"]) for p in rule["ports"]}


def test_each_service_may_only_receive_http_and_reach_kafka_postgres_and_the_issuer(
    overlay: str,
) -> None:
    for service, port in SERVICES.items():
        spec = named(overlay, "NetworkPolicy", f"salur-{service}")["spec"]
        assert spec["podSelector"] == {
            "matchLabels": {"app.kubernetes.io/name": f"salur-{service}"}
        }
        (ingress,) = spec["ingress"]
        assert ports(ingress) == {("TCP", port)}
        assert [p.get("podSelector") for p in ingress["from"]] == [None], "no pod talks to it"
        egress = {json.dumps(rule["to"], sort_keys=True): ports(rule) for rule in spec["egress"]}
        kafka = [{"podSelector": {"matchLabels": {"strimzi.io/cluster": "salur",
                                                  "strimzi.io/kind": "Kafka"}}}]  # fmt: skip
        postgres = [{"podSelector": {"matchLabels": {"cnpg.io/cluster": "salur-postgres"}}}]
        assert egress.pop(json.dumps(kafka, sort_keys=True)) == {("TCP", 9093)}
        assert egress.pop(json.dumps(postgres, sort_keys=True)) == {("TCP", 5432)}
        ((outside, outside_ports),) = egress.items()
        assert outside_ports == {("TCP", 443)}, "only HTTPS to the identity provider"
        assert "10.0.0.0/8" in json.loads(outside)[0]["ipBlock"]["except"]


def test_only_salur_services_reach_postgres_and_the_kafka_listener(overlay: str) -> None:
    salur = {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "salur"}}}
    postgres = named(overlay, "NetworkPolicy", "salur-postgres")["spec"]
    client_rule = next(r for r in postgres["ingress"] if ("TCP", 5432) in ports(r))
    assert salur in client_rule["from"]
    assert all("ipBlock" not in peer for rule in postgres["ingress"] for peer in rule["from"])
    kafka = named(overlay, "Kafka", "salur")["spec"]["kafka"]
    internal = next(listener for listener in kafka["listeners"] if listener["name"] == "tls")
    assert internal["networkPolicyPeers"] == [salur]
    assert internal["tls"] is True
    assert all(ls["authentication"]["type"] == "scram-sha-512" for ls in kafka["listeners"])


# --- Kafka ----------------------------------------------------------------------------


def expected_acls(service: str) -> set[tuple[str, str, str, str]]:
    """(resource type, name, pattern, operation) a service needs, from the table above."""
    own = "salur.audit.checkpoints.v1" if service == "audit" else f"salur.{service}.events.v1"
    acls = {("topic", own, "literal", op) for op in ("Write", "Describe")}
    if service in READS_OWN_TOPIC:
        acls.add(("topic", own, "literal", "Read"))
    acls.add(("cluster", "kafka-cluster", "literal", "IdempotentWrite"))
    for upstream in CONSUMES[service]:
        acls |= {
            ("topic", f"salur.{upstream}.events.v1", "literal", op) for op in ("Read", "Describe")
        }
    if CONSUMES[service]:
        acls.add(("group", service, "literal", "Read"))
        acls |= {("topic", f"salur.dlq.{service}", "literal", op) for op in ("Write", "Describe")}
    return acls


def granted(user: Resource) -> set[tuple[str, str, str, str]]:
    assert user["spec"]["authorization"]["type"] == "simple"
    out = set()
    for acl in user["spec"]["authorization"]["acls"]:
        assert acl.get("type", "allow") == "allow"
        assert acl.get("host", "*") == "*"
        resource = acl["resource"]
        for op in acl["operations"]:
            out.add((resource["type"], resource["name"], resource["patternType"], op))
    return out


def subscribed_topics() -> dict[str, set[str]]:
    """The topics each service's consumer group subscribes to, read from the services' code."""
    from salur_audit.settings import SOURCE_TOPICS
    from salur_matching.bootstrap import CONSUMER as MATCHING
    from salur_opportunities.bootstrap import CONSUMER as OPPORTUNITIES
    from salur_partnerships.bootstrap import CONSUMER as PARTNERSHIPS
    from salur_planning.bootstrap import CONSUMER as PLANNING
    from salur_registry.bootstrap import SPEC as REGISTRY

    specs = {"planning": PLANNING, "opportunities": OPPORTUNITIES, "matching": MATCHING}
    specs["partnerships"] = PARTNERSHIPS
    assert all(spec.group == service for service, spec in specs.items())
    assert not REGISTRY.consumers, "the registry consumes nothing"
    return {
        "registry": set(),
        "audit": set(SOURCE_TOPICS),
        **{service: set(spec.topics) for service, spec in specs.items()},
    }


def readme_reads() -> dict[str, set[str]]:
    """The "reads (events.v1 of)" column of the service table in deploy/README.md."""
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in (DEPLOY / "README.md").read_text().splitlines()
        if line.startswith("|") and line.split("|")[1].strip() in SERVICES
    ]
    every = ", ".join(s for s in SERVICES if s != "audit")
    return {
        row[0]: set() if row[4] == "\u2013" else set(row[4].replace("all five", every).split(", "))
        for row in rows
    }


def test_the_acl_table_is_what_the_services_subscribe_to() -> None:
    subscribed = subscribed_topics()
    for service in SERVICES:
        declared = {f"salur.{upstream}.events.v1" for upstream in CONSUMES[service]}
        assert declared == subscribed[service], service
    assert readme_reads() == {s: set(upstreams) for s, upstreams in CONSUMES.items()}


def test_each_service_user_has_exactly_the_acls_of_what_it_produces_and_consumes(
    overlay: str,
) -> None:
    for service in SERVICES:
        user = named(overlay, "KafkaUser", f"salur-{service}")
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        assert granted(user) == expected_acls(service), service


def test_no_service_may_write_another_services_topic(overlay: str) -> None:
    for service in SERVICES:
        writes = {
            name
            for kind, name, _, op in granted(named(overlay, "KafkaUser", f"salur-{service}"))
            if kind == "topic" and op in {"Write", "All", "Create", "Delete", "Alter"}
        }
        assert all(f".{service}." in name or name.endswith(f".{service}") for name in writes)


def test_other_agencies_read_only_the_public_partnership_events(overlay: str) -> None:
    agencies = [
        u for u in of_kind(overlay, "KafkaUser") if not u["metadata"]["name"].startswith("salur-")
    ]
    assert agencies, "the overlay gives at least the example agency access"
    for agency in agencies:
        name = agency["metadata"]["name"]
        assert granted(agency) == {
            ("topic", PUBLIC_TOPIC, "literal", "Read"),
            ("topic", PUBLIC_TOPIC, "literal", "Describe"),
            ("group", f"{name}.", "prefix", "Read"),
        }


def test_kafka_topics_are_those_of_infra_topics_yaml(overlay: str) -> None:
    declared = yaml.safe_load((ROOT / "infra/topics.yaml").read_text())["topics"]
    wanted = {t["name"]: t["partitions"] for t in declared if t["name"] != "salur.dlq.test"}
    rendered = {t["spec"]["topicName"]: t for t in of_kind(overlay, "KafkaTopic")}
    assert {name: t["spec"]["partitions"] for name, t in rendered.items()} == wanted
    brokers = named(overlay, "KafkaNodePool", "dual-role")["spec"]["replicas"]
    for topic in rendered.values():
        replicas = topic["spec"]["replicas"]
        assert replicas == min(3, brokers)
        assert int(topic["spec"]["config"]["min.insync.replicas"]) == max(1, replicas - 1)
        assert topic["spec"]["config"]["retention.ms"] == "-1"


def test_production_survives_the_loss_of_one_broker_and_one_database_instance() -> None:
    assert named("production", "KafkaNodePool", "dual-role")["spec"]["replicas"] == 3
    config = named("production", "Kafka", "salur")["spec"]["kafka"]["config"]
    assert config["min.insync.replicas"] == 2
    assert config["default.replication.factor"] == 3
    assert config["auto.create.topics.enable"] is False
    assert named("production", "Cluster", "salur-postgres")["spec"]["instances"] == 3


# --- Postgres and secrets -------------------------------------------------------------


def test_each_service_has_its_own_postgres_role_and_database(overlay: str) -> None:
    cluster = named(overlay, "Cluster", "salur-postgres")["spec"]
    roles = {r["name"]: r for r in cluster["managed"]["roles"]}
    databases = {d["spec"]["name"]: d["spec"] for d in of_kind(overlay, "Database")}
    assert set(databases) == {f"salur_{s}" for s in SERVICES}
    assert set(roles) == set(databases) | {AUDIT_WRITER_ROLE}
    assert roles[AUDIT_WRITER_ROLE]["passwordSecret"]["name"] == "salur-db-audit-writer"
    assert AUDIT_WRITER_ROLE not in {d["owner"] for d in databases.values()}
    for service in SERVICES:
        role = roles[f"salur_{service}"]
        assert role["login"] is True
        assert not role.get("superuser")
        assert role["passwordSecret"]["name"] == f"salur-db-{service}"
        assert databases[f"salur_{service}"]["owner"] == f"salur_{service}"
    assert cluster["enableSuperuserAccess"] is False


def mounted_secret_path(value: str | None) -> bool:
    """A path under /etc/salur, where Secrets are mounted: names a secret, holds none."""
    return bool(value) and str(value).startswith("/etc/salur/")


def test_no_secret_value_is_committed(overlay: str) -> None:
    assert not of_kind(overlay, "Secret"), "secrets are created in the cluster, never rendered"
    sensitive = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE|KEY$", re.IGNORECASE)
    for name, _, container in containers(overlay):
        for env in container["env"]:
            if sensitive.search(env["name"]) and not mounted_secret_path(env.get("value")):
                assert "valueFrom" in env, f"{name}: {env['name']} has a literal value"
    for config_map in of_kind(overlay, "ConfigMap"):
        for key, value in config_map["data"].items():
            assert not sensitive.search(key), f"{config_map['metadata']['name']}: {key}"
            assert "://" not in value or "@" not in value, f"credentials in a URL: {key}"


def test_every_secret_the_manifests_need_is_explained_in_the_readme(overlay: str) -> None:
    readme = (DEPLOY / "README.md").read_text()
    operator_made = {f"salur-{s}" for s in SERVICES} | {
        "salur-cluster-ca-cert",
        "salur-postgres-ca",
    }
    referenced: set[str] = set()
    for _, pod, container in containers(overlay):
        referenced |= {
            e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e
        }
        referenced |= {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    to_create = referenced - operator_made
    assert to_create == {f"salur-db-{s}" for s in SERVICES} | {
        "salur-db-audit-writer",
        "salur-audit-signing-key",
    }
    for secret in to_create:
        assert f"create secret generic {secret}" in readme, secret
