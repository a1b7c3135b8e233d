# shellcheck shell=bash
# The one place for local-infrastructure defaults. Sourced by infra/*.sh (and read by the
# Makefile through `make`'s own defaults, which mirror these). Override any value from the
# environment, e.g. `KAFKA_PORT=19092 make infra-up`.

SALUR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SALUR_ROOT

# Git-ignored locations.
export SALUR_DATA="${SALUR_DATA:-$SALUR_ROOT/.data}"
export SALUR_CACHE="${SALUR_CACHE:-$SALUR_ROOT/.cache}"
export SALUR_RUN="$SALUR_DATA/run"
export SALUR_LOGS="$SALUR_DATA/logs"

# Kafka (KRaft, one combined broker+controller).
export KAFKA_PORT="${KAFKA_PORT:-9092}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
export KAFKA_LIBS="$SALUR_CACHE/kafka-libs"
export KAFKA_HOME_DIR="$SALUR_DATA/kafka"
export KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
export KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

# Postgres (a private cluster, run as the `postgres` OS user).
export PG_PORT="${PG_PORT:-55432}"
export PG_USER="${PG_USER:-salur}"
export PG_PASSWORD="${PG_PASSWORD:-salur}"
export PG_OS_USER="${PG_OS_USER:-postgres}"
export PG_CLUSTER="$SALUR_DATA/postgres"
export PG_SOCKET_DIR="$SALUR_DATA/run/pg"
export PG_ADMIN_URL="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
export SALUR_DATABASES="salur_registry salur_planning salur_opportunities salur_matching salur_partnerships salur_audit"

# Services.
export SALUR_SERVICES_FILE="${SALUR_SERVICES_FILE:-$SALUR_ROOT/infra/services.txt}"
export SALUR_JWKS_PATH="${SALUR_JWKS_PATH:-.data/dev-issuer/jwks.json}"
export SERVICE_START_TIMEOUT="${SERVICE_START_TIMEOUT:-60}"

# Helpers shared by the scripts.
say() { printf '[%s] %s\n' "${SALUR_COMPONENT:-infra}" "$*"; }
die() { printf '[%s] ERROR: %s\n' "${SALUR_COMPONENT:-infra}" "$*" >&2; exit 1; }

# Make sure `uv` is on PATH, installing it with pip when it is missing.
ensure_uv() {
    if ! command -v uv >/dev/null 2>&1; then
        say "uv not found; installing it with pip"
        python3 -m pip install --quiet uv 2>/dev/null \
            || python3 -m pip install --quiet --break-system-packages uv \
            || die "could not install uv: run 'python3 -m pip install uv' (apt-get install python3-pip first if pip is missing)"
        hash -r
        command -v uv >/dev/null 2>&1 || die "uv installed but not on PATH; add ~/.local/bin to PATH"
    fi
}

# pid_alive FILE -> 0 when FILE names a live process.
pid_alive() {
    local pid
    [[ -f "$1" ]] || return 1
    pid="$(cat "$1" 2>/dev/null)" || return 1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# stop_pid NAME FILE [TIMEOUT]: SIGTERM, wait, then SIGKILL as a last resort.
stop_pid() {
    local name="$1" file="$2" timeout="${3:-30}" pid waited=0
    if ! pid_alive "$file"; then
        say "$name is not running"
        rm -f "$file"
        return 0
    fi
    pid="$(cat "$file")"
    say "stopping $name (pid $pid)"
    # Started with setsid, so the pid leads its own process group: signal the whole group
    # (e.g. `uv run` and the python it spawned).
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if (( waited >= timeout * 10 )); then
            say "$name did not stop within ${timeout}s; sending SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    rm -f "$file"
    say "$name stopped"
}

# port_open PORT -> 0 when something listens on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# lock NAME: serialise concurrent start/stop calls (make, pytest workers) on one file lock.
lock() {
    mkdir -p "$SALUR_RUN"
    exec 9>"$SALUR_RUN/$1.lock"
    flock 9
}
