#!/usr/bin/env bash
# Two builds of the server side by side: `/healthz`, `/v1/ping` (a key's check: no SQL once its
# owner's rights are cached), `GET /v1/keys` (a page of the key list, read from the database on
# every request) and the same page searched (`q=KEY`, which every key's description holds in
# another case) under wrk against each, in alternating rounds, so a change's cost is measured in
# one run on one machine rather than against figures from another day. Each build gets a database
# of its own (made by `keywarden user add`, since an older build refuses a newer schema) with one
# owner and LIST_KEYS keys made through the API: a SQLite file, or with COMPARE_POSTGRES (a
# superuser's URL) a PostgreSQL database made there, for example beside a throwaway cluster:
#   tests/postgres.sh bash -c 'COMPARE_POSTGRES=$KEYWARDEN_TEST_POSTGRES bash benches/compare.sh A B' 
#
#   bash benches/compare.sh BEFORE_BINARY AFTER_BINARY
#
# For example, with the build of an earlier commit kept as /tmp/keywarden-before:
#   git worktree add /tmp/before COMMIT && (cd /tmp/before && cargo build --release) \
#     && cp /tmp/before/target/release/keywarden /tmp/keywarden-before
#   cargo build --release && bash benches/compare.sh /tmp/keywarden-before target/release/keywarden
#
# Overrides: COMPARE_DURATION [10s], COMPARE_ROUNDS [3], COMPARE_PORT [18082], COMPARE_KEYS [50].
# Prints per build the medians of req/s and of server CPU per request, and after/before ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: bash benches/compare.sh BEFORE_BINARY AFTER_BINARY" >&2; exit 2; }
BEFORE=$1 AFTER=$2
DURATION=${COMPARE_DURATION:-10s}
ROUNDS=${COMPARE_ROUNDS:-3}
PORT=${COMPARE_PORT:-18082}
LIST_KEYS=${COMPARE_KEYS:-50}
POSTGRES=${COMPARE_POSTGRES:-}
THREADS=2
CONNECTIONS=64
BASE="http://127.0.0.1:$PORT"
TARGET_DIR=${CARGO_TARGET_DIR:-target}
RESULTS_DIR="$TARGET_DIR/bench-data/compare-$(date -u +%Y%m%dT%H%M%SZ)"

SCRIPT=compare.sh
# shellcheck source=benches/common.sh
source benches/common.sh

ensure_command wrk wrk
ensure_command curl curl
[ -z "$POSTGRES" ] || ensure_command psql postgresql-client
mkdir -p "$RESULTS_DIR"
PASSWORD="compare bench password"
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

# Starts `$1` on its own database and sets KEY to a key it accepts and SESSION to its owner's
# session; the first time, makes the owner and LIST_KEYS keys.
declare -A MADE
start() {
    local build=$1 bin=$2 db="sqlite://$RESULTS_DIR/$1.db" first=
    [ -z "$POSTGRES" ] || db="${POSTGRES%/*}/compare_$build"
    if [ -z "${MADE[$build]:-}" ]; then
        first=yes MADE[$build]=1
        if [ -n "$POSTGRES" ]; then
            psql -q "$POSTGRES" -c "DROP DATABASE IF EXISTS compare_$build" \
                -c "CREATE DATABASE compare_$build" || fail "$build: cannot make its database"
        fi
        printf '%s\n' "$PASSWORD" | "$bin" user add --email owner@bench.invalid --role owner \
            --database-url "$db" >/dev/null
    fi
    "$bin" serve --listen "127.0.0.1:$PORT" --database-url "$db" >>"$RESULTS_DIR/$build.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        curl -fs -o /dev/null --max-time 1 "$BASE/healthz" && break
        sleep 0.05
    done
    SESSION=$(curl -fs -H 'content-type: application/json' \
        -d "{\"email\":\"owner@bench.invalid\",\"password\":\"$PASSWORD\"}" "$BASE/v1/auth/login" \
        | json_field "['token']") || fail "$build: cannot sign in"
    KEY=$(curl -fs -H 'content-type: application/json' -H "authorization: Bearer $SESSION" \
        -d '{"name":"bench","expires_in_days":30}' "$BASE/v1/keys" | json_field "['secret']") \
        || fail "$build: cannot make a key"
    if [ -n "$first" ]; then
        for n in $(seq 2 "$LIST_KEYS"); do
            curl -fs -o /dev/null -H 'content-type: application/json' \
                -H "authorization: Bearer $SESSION" \
                -d "{\"name\":\"bench $n\",\"description\":\"key $n of the list\",\"expires_in_days\":30}" \
                "$BASE/v1/keys" || fail "$build: cannot make key $n"
        done
    fi
}

declare -A REQS_OF CPU_OF
for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then order="before after"; else order="after before"; fi
    for build in $order; do
        if [ "$build" = before ]; then bin=$BEFORE; else bin=$AFTER; fi
        start "$build" "$bin"
        wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$BASE/healthz" >/dev/null
        run_wrk "$build-healthz-$round" "$BASE/healthz"
        REQS_OF[$build-healthz]+="$REQS " CPU_OF[$build-healthz]+="$CPU_US "
        run_wrk "$build-ping-$round" "$BASE/v1/ping" -H "X-API-Key: $KEY"
        REQS_OF[$build-ping]+="$REQS " CPU_OF[$build-ping]+="$CPU_US "
        run_wrk "$build-list-$round" "$BASE/v1/keys?limit=$LIST_KEYS" -H "authorization: Bearer $SESSION"
        REQS_OF[$build-list]+="$REQS " CPU_OF[$build-list]+="$CPU_US "
        run_wrk "$build-search-$round" "$BASE/v1/keys?limit=$LIST_KEYS&q=KEY" -H "authorization: Bearer $SESSION"
        REQS_OF[$build-search]+="$REQS " CPU_OF[$build-search]+="$CPU_US "
        stop_server
        echo "compare.sh: round $round, $build: CPU us/req so far: healthz ${CPU_OF[$build-healthz]}/ ping ${CPU_OF[$build-ping]}/ list ${CPU_OF[$build-list]}/ search ${CPU_OF[$build-search]}" >&2
    done
done

echo "compare.sh: ${POSTGRES:+PostgreSQL, }$(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds"
echo
echo "| endpoint | before req/s | after req/s | after/before | before CPU us/req | after CPU us/req | after/before |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for endpoint in healthz ping list search; do
    # shellcheck disable=SC2086
    br=$(median ${REQS_OF[before-$endpoint]}) ar=$(median ${REQS_OF[after-$endpoint]})
    # shellcheck disable=SC2086
    bc=$(median ${CPU_OF[before-$endpoint]}) ac=$(median ${CPU_OF[after-$endpoint]})
    echo "| $endpoint | $br | $ar | $(awk -v a="$ar" -v b="$br" 'BEGIN { printf "%.2f", a / b }') | $bc | $ac | $(awk -v a="$ac" -v b="$bc" 'BEGIN { printf "%.2f", a / b }') |"
done
echo
echo "raw output: $RESULTS_DIR"
