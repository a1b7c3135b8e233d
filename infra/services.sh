#!/usr/bin/env bash
# Salur's services as local background processes (after Kafka and Postgres are up).
#   infra/services.sh start [name]   start every service in infra/services.txt (or one)
#   infra/services.sh stop [name]    SIGTERM, then wait
#   infra/services.sh status         one line per service; exit 1 if any is stopped
#   infra/services.sh logs [name]    tail the service logs
set -euo pipefail
SALUR_COMPONENT=services
# shellcheck source=infra/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$SALUR_ROOT"

# "name port" pairs from infra/services.txt, optionally filtered to one name.
services() {
    local name port
    while read -r name port _; do
        [[ -z "$name" || "$name" == \#* ]] && continue
        [[ -n "${1:-}" && "$1" != "$name" ]] && continue
        echo "$name $port"
    done <"$SALUR_SERVICES_FILE"
}

pid_file() { echo "$SALUR_RUN/service-$1.pid"; }
log_file() { echo "$SALUR_LOGS/$1.log"; }

dev_issuer() {
    if uv run --frozen --quiet salur --help >/dev/null 2>&1; then
        uv run --frozen --quiet salur dev jwks >/dev/null \
            || die "'uv run salur dev jwks' failed: cannot create the dev issuer keys"
    else
        say "note: 'salur' CLI not available yet; skipping dev issuer keys ($SALUR_JWKS_PATH)"
    fi
}

start_one() {
    local name="$1" port="$2" pid_f log_f waited=0
    pid_f="$(pid_file "$name")"
    log_f="$(log_file "$name")"
    if pid_alive "$pid_f"; then
        say "$name already running (pid $(cat "$pid_f")) on http://127.0.0.1:$port"
        return 0
    fi
    if ! uv run --frozen --quiet python -c "import importlib.util as u, sys
try:
    sys.exit(0 if u.find_spec('salur_$name.__main__') else 3)
except ModuleNotFoundError:
    sys.exit(3)" 2>/dev/null; then
        die "$name: module salur_$name (with __main__) is not installed; is services/$name a uv workspace member? run 'uv sync'"
    fi
    port_open "$port" && die "$name: port $port is already taken by another process"
    say "starting $name on http://127.0.0.1:$port"
    SALUR_SERVICE="$name" HTTP_PORT="$port" SALUR_ENV=development \
        DATABASE_URL="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/salur_$name" \
        KAFKA_BOOTSTRAP_SERVERS="$KAFKA_BOOTSTRAP" SALUR_JWKS_PATH="$SALUR_JWKS_PATH" \
        nohup setsid uv run --frozen --quiet python -m "salur_$name" >>"$log_f" 2>&1 </dev/null 9>&- &
    echo $! >"$pid_f"
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
        if ! pid_alive "$pid_f"; then
            echo "----- last lines of ${log_f#"$SALUR_ROOT"/} -----" >&2
            tail -n 40 "$log_f" >&2
            rm -f "$pid_f"
            die "$name exited during start"
        fi
        if (( waited >= SERVICE_START_TIMEOUT * 4 )); then
            echo "----- last lines of ${log_f#"$SALUR_ROOT"/} -----" >&2
            tail -n 40 "$log_f" >&2
            stop_pid "$name" "$pid_f" 10
            die "$name: /readyz did not answer 200 within ${SERVICE_START_TIMEOUT}s"
        fi
        sleep 0.25
        waited=$((waited + 1))
    done
    say "$name ready on http://127.0.0.1:$port"
}

cmd="${1:-}"
only="${2:-}"
[[ -z "$only" ]] || services "$only" | grep -q . || die "unknown service '$only' (see infra/services.txt)"
case "$cmd" in
    start)
        lock services
        mkdir -p "$SALUR_RUN" "$SALUR_LOGS"
        ensure_uv
        dev_issuer
        services "$only" | while read -r name port; do start_one "$name" "$port"; done
        ;;
    stop)
        lock services
        services "$only" | while read -r name _; do stop_pid "$name" "$(pid_file "$name")" 30; done
        ;;
    status)
        rc=0
        while read -r name port; do
            if pid_alive "$(pid_file "$name")"; then
                say "$name running (pid $(cat "$(pid_file "$name")")) on http://127.0.0.1:$port"
            else
                say "$name stopped"; rc=1
            fi
        done < <(services "$only")
        exit "$rc"
        ;;
    logs)
        services "$only" | while read -r name _; do
            echo "===== $name (${SALUR_LOGS#"$SALUR_ROOT"/}/$name.log) ====="
            tail -n "${LINES:-50}" "$(log_file "$name")" 2>/dev/null || echo "(no log yet)"
        done
        ;;
    *) echo "usage: $0 {start|stop|status|logs} [name]" >&2; exit 2 ;;
esac
