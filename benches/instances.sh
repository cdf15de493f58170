#!/usr/bin/env bash
# Two `keywarden serve` instances on one database, on a SQLite file and on PostgreSQL side by side in
# one run (a throwaway cluster from tests/postgres.sh):
#   revocation lag  a key is made through the first instance and accepted by the second; it is
#                   revoked through the first, and the time from that answer to the second's first
#                   refusal is taken (examples/instances.rs asks back to back), INSTANCES_REVOCATIONS
#                   times (200): median, p99, maximum
#   throughput      `GET /v1/ping` with a valid key against `GET /healthz` on the first instance (wrk,
#                   as in benches/load.sh), INSTANCES_ROUNDS rounds (3) alternating which goes first,
#                   the two backends interleaved: the median of the rounds' ping/healthz ratios
#
#   bash benches/instances.sh
#
# Overrides: INSTANCES_REVOCATIONS [200], INSTANCES_ROUNDS [3], INSTANCES_DURATION [10s].
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${KEYWARDEN_TEST_POSTGRES:-}" ]; then
  exec tests/postgres.sh bash "$0" "$@"
fi

REVOCATIONS=${INSTANCES_REVOCATIONS:-200}
ROUNDS=${INSTANCES_ROUNDS:-3}
DURATION=${INSTANCES_DURATION:-10s}
THREADS=2
CONNECTIONS=64
SCRIPT=instances.sh
TARGET_DIR=${CARGO_TARGET_DIR:-target}
RESULTS_DIR="$TARGET_DIR/bench-data/instances-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RESULTS_DIR"
# shellcheck source=benches/common.sh
source benches/common.sh
ensure_command wrk wrk
ensure_command curl curl
ensure_command psql postgresql-client

echo "instances.sh: building (cargo build --release --bin keywarden --example instances)" >&2
cargo build --release --quiet --bin keywarden --example instances
BIN="$TARGET_DIR/release/keywarden"
HELPER="$TARGET_DIR/release/examples/instances"
export KW_PASSWORD="instances bench password"
EMAIL=owner@example.com

PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT

# Starts `keywarden serve` on a free port over $1; sets STARTED_URL and STARTED_PID.
start() {
  local log="$RESULTS_DIR/server-$2.log"
  RUST_LOG=info "$BIN" serve --listen 127.0.0.1:0 --database-url "$1" >"$log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for _ in $(seq 1 200); do
    STARTED_URL=$(sed -n 's/.*listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$log" | head -n 1)
    [ -n "$STARTED_URL" ] && return 0
    kill -0 "$STARTED_PID" 2>/dev/null || { cat "$log" >&2; fail "serve exited"; }
    sleep 0.05
  done
  fail "serve did not start: $log"
}

declare -A FIRST FIRST_PID SECOND KEY
pg_database="kw_bench_$$"
psql -q "$KEYWARDEN_TEST_POSTGRES" -c "CREATE DATABASE $pg_database"
declare -A URLS=(
  [sqlite]="sqlite://$RESULTS_DIR/shared.db"
  [postgres]="${KEYWARDEN_TEST_POSTGRES%/*}/$pg_database"
)
for backend in sqlite postgres; do
  printf '%s\n' "$KW_PASSWORD" | "$BIN" user add --email "$EMAIL" --role owner \
    --database-url "${URLS[$backend]}" >/dev/null
  start "${URLS[$backend]}" "$backend-first"
  FIRST[$backend]=$STARTED_URL FIRST_PID[$backend]=$STARTED_PID
  start "${URLS[$backend]}" "$backend-second"
  SECOND[$backend]=$STARTED_URL
  KEY[$backend]=$("$HELPER" key "${FIRST[$backend]}" "$EMAIL")
done

declare -A LAG
for backend in sqlite postgres; do
  echo "instances.sh: $backend: $REVOCATIONS revocations" >&2
  LAG[$backend]=$("$HELPER" lag "${FIRST[$backend]}" "${SECOND[$backend]}" "$EMAIL" "$REVOCATIONS")
done

declare -A RATIOS
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order="sqlite postgres"; else order="postgres sqlite"; fi
  for backend in $order; do
    SERVER_PID=${FIRST_PID[$backend]}
    if [ $((round % 2)) -eq 1 ]; then endpoints="healthz ping"; else endpoints="ping healthz"; fi
    for endpoint in $endpoints; do
      if [ "$endpoint" = healthz ]; then
        run_wrk "healthz-$backend-$round" "${FIRST[$backend]}/healthz"
        healthz=$REQS
      else
        run_wrk "ping-$backend-$round" "${FIRST[$backend]}/v1/ping" -H "X-API-Key: ${KEY[$backend]}"
        ping=$REQS
      fi
    done
    SERVER_PID=
    ratio=$(awk -v p="$ping" -v h="$healthz" 'BEGIN { printf "%.2f", p / h }')
    RATIOS[$backend]="${RATIOS[$backend]:-} $ratio"
    echo "instances.sh: round $round, $backend: healthz $healthz req/s, ping $ping req/s, ratio $ratio" >&2
  done
done

echo "$REVOCATIONS revocations; wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds; $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| backend | revocation lag p50 | p99 | max | ping/healthz (median; rounds) |"
echo "| --- | ---: | ---: | ---: | ---: |"
for backend in sqlite postgres; do
  read -r p50 p99 max <<<"${LAG[$backend]}"
  # shellcheck disable=SC2086
  echo "| $backend | $p50 ms | $p99 ms | $max ms | $(median ${RATIOS[$backend]}) (${RATIOS[$backend]# }) |"
done
echo
echo "raw output: $RESULTS_DIR"
