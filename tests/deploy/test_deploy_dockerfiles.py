"""The service images, checked by reading their Dockerfiles (no Docker engine is needed).

A service Dockerfile builds on the two stages of services/Dockerfile.base: `builder` (uv
and the lock) and `runtime` (the final image's parent). The final image is the runtime
stage plus the service's virtual environment, so its properties are those of both.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "services/Dockerfile.base"
SERVICES = {
    "registry": 8001,
    "planning": 8002,
    "opportunities": 8003,
    "matching": 8004,
    "partnerships": 8005,
    "audit": 8006,
}
# A RUN that only deletes files: it may name the tools it removes.
REMOVAL = re.compile(r"rm -rf( /[\w./*-]+)+")
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|cc|clang|make|build-essential|apt-get|apk|pip|uv|uvx|git|curl|wget)\b"
)


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(path: Path) -> list[Stage]:
    """Stages of a Dockerfile: continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(image=parts[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, " ".join(args.split())))
    return stages


def base_stage(name: str) -> Stage:
    (stage,) = [s for s in parse(BASE) if s.name == name]
    return stage


@pytest.fixture(params=sorted(SERVICES))
def service(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def stages_of(service: str) -> list[Stage]:
    return parse(ROOT / "services" / service / "Dockerfile")


def test_each_service_image_is_multi_stage_on_the_shared_base(service: str) -> None:
    build, final = stages_of(service)
    assert build.image.startswith("salur/base-builder:")
    assert build.name == "build"
    assert final.image.startswith("salur/base-runtime:")
    assert final.name is None
    assert all(args.startswith("--from=build ") for args in final.all("COPY")), (
        "the final stage copies only the built virtual environment"
    )
    assert {s.name for s in parse(BASE)} >= {"builder", "runtime"}


def test_dependencies_come_from_the_lock_file_only(service: str) -> None:
    build, _ = stages_of(service)
    syncs = [args for args in build.all("RUN") if "uv sync" in args]
    assert len(syncs) == 2, "third-party packages first, then the service's own code"
    for args in syncs:
        words = shlex.split(args)
        assert "--frozen" in words
        assert "--no-dev" in words
        assert words[words.index("--package") + 1] == f"salur-{service}"
    assert "--no-install-workspace" in syncs[0]
    assert "--no-editable" in syncs[1]
    assert not [a for a in build.all("RUN") if re.search(r"\bpip install\b|uv (add|lock)", a)]
    copied = " ".join(base_stage("builder").all("COPY"))
    assert "uv.lock" in copied


def test_each_image_runs_as_a_numeric_non_root_user(service: str) -> None:
    _, final = stages_of(service)
    users = final.all("USER") or base_stage("runtime").all("USER")
    user, _, group = users[-1].partition(":")
    assert user.isdigit(), "numeric, so runAsNonRoot can be verified without /etc/passwd"
    assert int(user) >= 10000
    assert group.isdigit()
    assert int(group) > 0
    (base_user,) = base_stage("runtime").all("USER")
    assert base_user == users[-1]


def test_each_image_checks_its_own_health_endpoint(service: str) -> None:
    _, final = stages_of(service)
    (check,) = final.all("HEALTHCHECK")
    assert f"http://127.0.0.1:{SERVICES[service]}/healthz" in check
    assert "--timeout=" in check
    assert "--interval=" in check
    (entrypoint,) = final.all("ENTRYPOINT")
    assert json.loads(entrypoint) == ["python", "-m", f"salur_{service}"]
    env = " ".join(final.all("ENV"))
    assert f"SALUR_SERVICE={service}" in env
    assert f"HTTP_PORT={SERVICES[service]}" in env
    assert final.all("EXPOSE") == [str(SERVICES[service])]


def test_the_final_image_has_no_build_tools(service: str) -> None:
    _, final = stages_of(service)
    runtime = base_stage("runtime")
    for stage in (final, runtime):
        for keyword, args in stage.instructions:
            if keyword == "RUN" and not REMOVAL.fullmatch(args):
                assert not BUILD_TOOLS.search(args), f"{stage.image}: RUN {args}"
            if keyword == "COPY" and "--from=" in args:
                source = args.split("--from=")[1].split()[0]
                assert source in {"build"}, f"copies from {source}"
    # Both base stages start from the same slim Python image (no compiler in it), so the
    # venv's interpreter path exists at run time.
    assert runtime.image == base_stage("builder").image == "${PYTHON_IMAGE}"
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11-slim", BASE.read_text())
    # ... but it has pip, setuptools and wheel, which the runtime stage deletes.
    removed = " ".join(a for a in runtime.all("RUN") if REMOVAL.fullmatch(a)).split()
    site = "/usr/local/lib/python3.11/site-packages/"
    for tool in ("pip*", "setuptools*", "wheel*"):
        assert site + tool in removed, tool
    assert "/usr/local/bin/pip*" in removed


def test_the_parser_sees_a_build_tool_and_a_root_user(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11 AS build\nRUN true\nFROM python:3.11\n"
                   "RUN apt-get update && \\\n    apt-get install -y gcc\nUSER root\n")  # fmt: skip
    _, final = parse(bad)
    assert BUILD_TOOLS.search(final.all("RUN")[0])
    assert not final.all("USER")[0].partition(":")[0].isdigit()


def test_the_build_context_holds_only_manifests_lock_and_sources() -> None:
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*")] == "*", "everything excluded unless allowed"
    allowed = {line[1:] for line in ignore if line.startswith("!")}
    assert {"pyproject.toml", "uv.lock", "contracts/src/", "services/*/src/"} <= allowed
    assert not any(".data" in a or ".venv" in a or "tests" in a for a in allowed)
