#!/usr/bin/env bash
# Tools the deploy checks need, installed once into the git-ignored .cache/go-bin.
#   deploy/tools.sh kustomize     prints the path of a kustomize binary, installing it first
# kustomize comes from the Go module proxy (`go install`), pinned below.
set -euo pipefail
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.5.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="$root/.cache/go-bin"

# `go install` builds report their version as "(devel)", so the installed version is
# recorded beside the binary.
kustomize_path() {
    local binary="$bin_dir/kustomize" stamp="$bin_dir/kustomize.version"
    if [[ -x "$binary" && -f "$stamp" && "$(cat "$stamp")" == "$KUSTOMIZE_VERSION" ]]; then
        echo "$binary"
        return 0
    fi
    return 1
}

case "${1:-}" in
    kustomize)
        if ! kustomize_path; then
            command -v go >/dev/null 2>&1 \
                || { echo "deploy/tools.sh: kustomize needs Go to install (apt-get install golang-go)" >&2; exit 1; }
            mkdir -p "$bin_dir"
            echo "deploy/tools.sh: installing kustomize $KUSTOMIZE_VERSION into ${bin_dir#"$root"/}" >&2
            GOBIN="$bin_dir" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
            echo "$KUSTOMIZE_VERSION" >"$bin_dir/kustomize.version"
            kustomize_path
        fi
        ;;
    *) echo "usage: $0 kustomize" >&2; exit 2 ;;
esac
