#!/usr/bin/env bash
# Local PostgreSQL without Docker: a private cluster in .data/postgres on 127.0.0.1:$PG_PORT.
#   infra/postgres.sh install   install the Debian `postgresql` package when initdb is missing
#   infra/postgres.sh start     install, initdb once, start, create the salur role + databases
#   infra/postgres.sh stop      fast shutdown (keeps data)
#   infra/postgres.sh status    exit 0 when running
#   infra/postgres.sh logs      tail the server log
# Postgres refuses to run as root, so the server runs as the `postgres` OS user.
set -euo pipefail
SALUR_COMPONENT=postgres
# shellcheck source=infra/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$SALUR_ROOT"

LOG_FILE="$SALUR_LOGS/postgres.log"

find_bindir() {
    local dir
    # Highest installed major version first.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then echo "$dir"; return 0; fi
    done
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 \
        && dirname "$(command -v initdb)" && return 0
    return 1
}

install() {
    if ! PG_BIN="$(find_bindir)"; then
        command -v apt-get >/dev/null 2>&1 \
            || die "initdb/pg_ctl not found and apt-get unavailable: install PostgreSQL server binaries"
        [[ "$(id -u)" == 0 ]] || die "initdb/pg_ctl not found: run 'sudo apt-get install -y postgresql'"
        say "PostgreSQL server not found; installing the Debian package 'postgresql'"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        PG_BIN="$(find_bindir)" || die "postgresql installed but initdb/pg_ctl still not found"
    fi
    if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
        say "creating system user $PG_OS_USER"
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash "$PG_OS_USER"
    fi
}

as_pg() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u "$PG_OS_USER" -- "$@"
    else
        "$@"  # not root: run the server as the invoking user
    fi
}

# The server user must be able to reach .data: add o+x to any ancestor that blocks it.
grant_traversal() {
    [[ "$(id -u)" == 0 ]] || return 0
    local dir="$SALUR_DATA"
    while [[ "$dir" != "/" ]]; do
        if ! runuser -u "$PG_OS_USER" -- test -x "$dir"; then
            say "chmod o+x $dir (so the $PG_OS_USER user can reach .data)"
            chmod o+x "$dir"
        fi
        dir="$(dirname "$dir")"
    done
}

prepare_dirs() {
    mkdir -p "$SALUR_DATA" "$SALUR_LOGS" "$SALUR_RUN" "$PG_SOCKET_DIR" "$PG_CLUSTER"
    grant_traversal
    touch "$LOG_FILE"
    if [[ "$(id -u)" == 0 ]]; then
        chown "$PG_OS_USER:" "$PG_CLUSTER" "$PG_SOCKET_DIR" "$LOG_FILE"
    fi
    chmod 700 "$PG_CLUSTER"
}

initdb_once() {
    [[ -f "$PG_CLUSTER/PG_VERSION" ]] && return 0
    say "initdb ${PG_CLUSTER#"$SALUR_ROOT"/} (trust auth, listening on 127.0.0.1 only)"
    as_pg "$PG_BIN/initdb" -D "$PG_CLUSTER" --username=postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 >>"$LOG_FILE" 2>&1 \
        || { tail -n 20 "$LOG_FILE" >&2; die "initdb failed (see .data/logs/postgres.log)"; }
    echo "include_if_exists = 'salur.conf'" | as_pg tee -a "$PG_CLUSTER/postgresql.conf" >/dev/null
}

running() { as_pg "$PG_BIN/pg_ctl" -D "$PG_CLUSTER" status >/dev/null 2>&1; }

psql_admin() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres \
        -d postgres "$@"
}

start() {
    lock postgres
    install
    prepare_dirs
    initdb_once
    if running; then
        say "already running on 127.0.0.1:$PG_PORT"
    else
        if port_open "$PG_PORT"; then
            die "port $PG_PORT is taken by another process (not ours); stop it or set PG_PORT"
        fi
        as_pg cp "$SALUR_ROOT/infra/postgres.conf" "$PG_CLUSTER/salur.conf"
        say "starting on 127.0.0.1:$PG_PORT"
        if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_CLUSTER" -l "$LOG_FILE" -w -t 60 \
            -o "-p $PG_PORT -k $PG_SOCKET_DIR -c listen_addresses=127.0.0.1" start >/dev/null 9>&-; then
            tail -n 30 "$LOG_FILE" >&2
            die "postgres did not start (see .data/logs/postgres.log above)"
        fi
    fi
    psql_admin -f "$SALUR_ROOT/infra/postgres-init.sql" >/dev/null \
        || die "could not create the salur role and databases (infra/postgres-init.sql)"
    say "ready: $PG_ADMIN_URL (databases: $SALUR_DATABASES)"
}

stop() {
    lock postgres
    PG_BIN="$(find_bindir)" || { say "not installed"; return 0; }
    if [[ -f "$PG_CLUSTER/PG_VERSION" ]] && running; then
        say "stopping"
        as_pg "$PG_BIN/pg_ctl" -D "$PG_CLUSTER" -m fast -w -t 60 stop >/dev/null
        say "stopped"
    else
        say "not running"
    fi
}

status() {
    PG_BIN="$(find_bindir)" || { say "not installed"; exit 1; }
    if [[ -f "$PG_CLUSTER/PG_VERSION" ]] && running; then
        say "running on 127.0.0.1:$PG_PORT ($PG_ADMIN_URL)"
    else
        say "stopped"; exit 1
    fi
}

case "${1:-}" in
    install) install; say "server binaries in $PG_BIN" ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    logs) tail -n "${LINES:-50}" "$LOG_FILE" 2>/dev/null || say "no log yet at ${LOG_FILE#"$SALUR_ROOT"/}" ;;
    *) echo "usage: $0 {install|start|stop|status|logs}" >&2; exit 2 ;;
esac
