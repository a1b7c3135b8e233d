#!/usr/bin/env bash
# Build every Salur image in dependency order: the two shared base stages, then each
# service on top of them.
#   deploy/docker/build.sh [TAG] [REGISTRY]     e.g. deploy/docker/build.sh 1.4.0 ghcr.io/acme
# Run from anywhere; the build context is the repository root (see /.dockerignore).
set -euo pipefail
tag="${1:-latest}"
registry="${2:-salur}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export DOCKER_BUILDKIT=1
docker build -f services/Dockerfile.base --target builder -t "salur/base-builder:$tag" .
docker build -f services/Dockerfile.base --target runtime -t "salur/base-runtime:$tag" .
for service in registry planning opportunities matching partnerships audit; do
    docker build -f "services/$service/Dockerfile" --build-arg "BASE_TAG=$tag" \
        -t "$registry/salur-$service:$tag" .
done
