"""Re-fetch the operators' published CRD schemas into deploy/schemas, reproducibly.

    uv run python deploy/schemas/fetch.py           rewrite the schema files
    uv run python deploy/schemas/fetch.py --check   fail if a file differs from its source

Each schema file holds, verbatim, the `openAPIV3Schema` of one CustomResourceDefinition
at the version the manifests use, beside the artifact it was read from. The artifacts
come from package registries through their ordinary clients, pinned by version and by the
sha256 of the downloaded file (a different download fails here, never silently):

- Strimzi 0.51.0: the Maven Central artifact `io.strimzi:api:0.51.0:jar:tests`. Its
  `crds/v1beta2/` are the CRDs Strimzi's build generates from the API classes of the same
  release with the same options as its install files (`--api-versions v1beta2,v1
  --storage-version v1beta2`), only without descriptions. Strimzi publishes no other
  artifact with its CRD files (its crd-generator is not published for 0.51).
- CloudNativePG 1.25.1 (the oldest release the manifests support, see deploy/README.md):
  the Go module `github.com/cloudnative-pg/cloudnative-pg@v1.25.1`, whose
  `config/crd/bases/` are the CRDs the operator's release installs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCHEMAS = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Artifact:
    registry: str  # "maven" or "go"
    coordinates: str  # group:artifact:version:packaging[:classifier], or module@version
    sha256: str


@dataclass(frozen=True)
class Schema:
    file: str
    artifact: Artifact
    member: str  # the CRD's path inside the artifact
    version: str  # the served version the manifests use


STRIMZI = Artifact(
    "maven",
    "io.strimzi:api:0.51.0:jar:tests",
    "b99f69303dc507ca505b74345d93f5260621bb084b8b79447f726e54b6e66a1d",
)
CNPG = Artifact(
    "go",
    "github.com/cloudnative-pg/cloudnative-pg@v1.25.1",
    "aedc8c14b4a363475565d2fe0bcfb8a24347d27897db5257e751f4b4d4396bd1",
)
CNPG_CRDS = "github.com/cloudnative-pg/cloudnative-pg@v1.25.1/config/crd/bases"
PINNED = (
    Schema(
        "kafka.strimzi.io_v1beta2_kafka.json", STRIMZI, "crds/v1beta2/040-Crd-kafka.yaml", "v1beta2"
    ),
    Schema(
        "kafka.strimzi.io_v1beta2_kafkatopic.json",
        STRIMZI,
        "crds/v1beta2/043-Crd-kafkatopic.yaml",
        "v1beta2",
    ),
    Schema(
        "kafka.strimzi.io_v1beta2_kafkauser.json",
        STRIMZI,
        "crds/v1beta2/044-Crd-kafkauser.yaml",
        "v1beta2",
    ),
    Schema(
        "kafka.strimzi.io_v1beta2_kafkanodepool.json",
        STRIMZI,
        "crds/v1beta2/045-Crd-kafkanodepool.yaml",
        "v1beta2",
    ),
    Schema(
        "postgresql.cnpg.io_v1_cluster.json",
        CNPG,
        f"{CNPG_CRDS}/postgresql.cnpg.io_clusters.yaml",
        "v1",
    ),
    Schema(
        "postgresql.cnpg.io_v1_database.json",
        CNPG,
        f"{CNPG_CRDS}/postgresql.cnpg.io_databases.yaml",
        "v1",
    ),
)


def download(artifact: Artifact, into: Path) -> Path:
    """The artifact's file, fetched by the registry's own client, checked against its pin."""
    if artifact.registry == "maven":
        subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-Dstyle.color=never",
                "dependency:copy",
                f"-Dartifact={artifact.coordinates}",
                f"-DoutputDirectory={into}",
            ],
            check=True,
            cwd=into,
        )
        (path,) = into.glob("*.jar")
    else:
        found = subprocess.run(
            ["go", "mod", "download", "-json", artifact.coordinates],
            check=True,
            cwd=into,  # outside any Go module: a plain download
            capture_output=True,
            text=True,
        )
        path = Path(json.loads(found.stdout)["Zip"])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != artifact.sha256:
        raise SystemExit(f"{artifact.coordinates}: sha256 {digest}, pinned {artifact.sha256}")
    return path


def extract(archive: Path, schema: Schema) -> dict[str, Any]:
    with zipfile.ZipFile(archive) as opened:
        crd = yaml.safe_load(opened.read(schema.member))
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == schema.version]
    assert served["served"], f"{schema.member}: {schema.version} is not served"
    return {
        "source": {
            "registry": schema.artifact.registry,
            "artifact": schema.artifact.coordinates,
            "sha256": schema.artifact.sha256,
            "member": schema.member,
            "group": crd["spec"]["group"],
            "kind": crd["spec"]["names"]["kind"],
            "version": schema.version,
        },
        "openAPIV3Schema": served["schema"]["openAPIV3Schema"],
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    check = parser.parse_args().check
    stale = []
    with tempfile.TemporaryDirectory() as scratch:
        archives: dict[Artifact, Path] = {}
        for schema in PINNED:
            if schema.artifact not in archives:
                into = Path(scratch) / str(len(archives))
                into.mkdir()
                archives[schema.artifact] = download(schema.artifact, into)
            text = render(extract(archives[schema.artifact], schema))
            target = SCHEMAS / schema.file
            if check:
                if not target.exists() or target.read_text() != text:
                    stale.append(schema.file)
            else:
                target.write_text(text)
                print(f"{schema.file}: {schema.artifact.coordinates} {schema.member}")
    if stale:
        print(f"differ from their published source: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
