#!/usr/bin/env bash
# Load test of the real server: `GET /v1/ping` with a valid API key against `GET /healthz` (no
# credential), measured side by side on one server process, with 1,000 and with 1,000,000 stored keys.
#
#   bash benches/load.sh
#
# Prints one markdown table row per key count and whether the targets hold: ping throughput at least
# 0.8x healthz with 1,000 keys and 0.75x with 1,000,000 keys, p99 latency under 10 ms for both.
# Exits 1 when a target is missed. Everything listens and connects on 127.0.0.1 only.
#
# One 10 s pair swings by up to +-0.2 in ratio on a shared 2-core machine, so each key count runs
# LOAD_ROUNDS pairs (healthz then ping, then ping then healthz, ...) and reports the median of the
# rounds' ratios and the worst p99. LOAD_ROUNDS=1 is a single pair.
#
# Overrides (defaults in brackets): LOAD_DURATION [10s], LOAD_CONNECTIONS [64], LOAD_THREADS [2],
# LOAD_ROUNDS [3], LOAD_WARMUP [2s, 0 to skip], LOAD_PORT [18080], LOAD_KEY_COUNTS ["1000 1000000"].
# Seeded databases are kept in target/bench-data/keys-N.db (shared with `cargo bench --bench keys`),
# the raw wrk output and server logs in target/bench-data/load-<time>/.
set -euo pipefail

DURATION=${LOAD_DURATION:-10s}
CONNECTIONS=${LOAD_CONNECTIONS:-64}
THREADS=${LOAD_THREADS:-2}
WARMUP=${LOAD_WARMUP:-2s}
ROUNDS=${LOAD_ROUNDS:-3}
PORT=${LOAD_PORT:-18080}
KEY_COUNTS=${LOAD_KEY_COUNTS:-"1000 1000000"}
HOST=127.0.0.1
BASE="http://$HOST:$PORT"

cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-target}
DATA_DIR="$TARGET_DIR/bench-data"
RESULTS_DIR="$DATA_DIR/load-$(date -u +%Y%m%dT%H%M%SZ)"

SCRIPT=load.sh
# shellcheck source=benches/common.sh
source benches/common.sh

ensure_command wrk wrk
ensure_command curl curl

echo "load.sh: building (cargo build --release; cargo build --release --example seed)" >&2
cargo build --release --quiet
cargo build --release --quiet --example seed
SERVER_BIN="$TARGET_DIR/release/keywarden"
SEED_BIN="$TARGET_DIR/release/examples/seed"

mkdir -p "$DATA_DIR" "$RESULTS_DIR"
if curl -s -o /dev/null --max-time 1 "$BASE/healthz"; then
    fail "something already answers on $HOST:$PORT; set LOAD_PORT to a free port"
fi

ROWS=()
MISSED=()
for keys in $KEY_COUNTS; do
    db="$DATA_DIR/keys-$keys.db"
    # A database without its marker is an interrupted seed: start it over.
    if [ ! -e "$db.seed" ]; then
        rm -f "$db" "$db-wal" "$db-shm"
    fi
    key=$("$SEED_BIN" --database-url "sqlite://$db" --keys "$keys")
    [ -n "$key" ] || fail "the seed printed no key"

    log="$RESULTS_DIR/server-$keys.log"
    RUST_LOG=info "$SERVER_BIN" serve --listen "$HOST:$PORT" --database-url "sqlite://$db" >"$log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        curl -fs -o /dev/null --max-time 1 "$BASE/healthz" && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; fail "the server exited before answering"; }
        sleep 0.05
    done
    curl -fs -o /dev/null --max-time 1 "$BASE/healthz" || fail "the server did not answer /healthz within 10 s"
    curl -fs -o /dev/null --max-time 1 -H "X-API-Key: $key" "$BASE/v1/ping" \
        || fail "the seeded key is not accepted by /v1/ping"

    if [ "$WARMUP" != 0 ]; then
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$BASE/healthz" >/dev/null
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -H "X-API-Key: $key" "$BASE/v1/ping" >/dev/null
    fi
    healthz_all=() ping_all=() ratio_all=() p99_healthz_all=() p99_ping_all=() cpu_healthz_all=() cpu_ping_all=()
    for round in $(seq 1 "$ROUNDS"); do
        # Alternate which endpoint goes first, so a drift in machine speed does not favour one.
        if [ $((round % 2)) -eq 1 ]; then order="healthz ping"; else order="ping healthz"; fi
        for endpoint in $order; do
            if [ "$endpoint" = healthz ]; then
                run_wrk "healthz-$keys-$round" "$BASE/healthz"
                healthz_reqs=$REQS
                healthz_all+=("$REQS") p99_healthz_all+=("$P99") cpu_healthz_all+=("$CPU_US")
            else
                run_wrk "ping-$keys-$round" "$BASE/v1/ping" -H "X-API-Key: $key"
                ping_reqs=$REQS
                ping_all+=("$REQS") p99_ping_all+=("$P99") cpu_ping_all+=("$CPU_US")
            fi
        done
        ratio_all+=("$(awk -v p="$ping_reqs" -v h="$healthz_reqs" 'BEGIN { printf "%.2f", p / h }')")
        echo "load.sh: $keys keys, round $round: healthz $healthz_reqs req/s, ping $ping_reqs req/s, ratio ${ratio_all[-1]}; server CPU per request: healthz ${cpu_healthz_all[-1]} us, ping ${cpu_ping_all[-1]} us" >&2
    done
    stop_server
    echo "load.sh: server log for $keys keys: $(wc -l <"$log") lines ($log)" >&2

    healthz_reqs=$(median "${healthz_all[@]}") ping_reqs=$(median "${ping_all[@]}")
    ratio=$(median "${ratio_all[@]}")
    healthz_p99=$(maximum "${p99_healthz_all[@]}") ping_p99=$(maximum "${p99_ping_all[@]}")
    healthz_cpu=$(median "${cpu_healthz_all[@]}") ping_cpu=$(median "${cpu_ping_all[@]}")
    if [ "$keys" -ge 1000000 ]; then target=0.75; else target=0.8; fi
    ROWS+=("| $keys | $healthz_reqs | $ping_reqs | $ratio (${ratio_all[*]}) | $healthz_p99 ms | $ping_p99 ms | $healthz_cpu / $ping_cpu |")
    awk -v r="$ratio" -v t="$target" 'BEGIN { exit !(r >= t) }' \
        || MISSED+=("$keys keys: ping/healthz $ratio < $target")
    for pair in "healthz:$healthz_p99" "ping:$ping_p99"; do
        awk -v ms="${pair#*:}" 'BEGIN { exit !(ms < 10) }' \
            || MISSED+=("$keys keys: ${pair%%:*} p99 ${pair#*:} ms >= 10 ms")
    done
done

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, $ROUNDS rounds, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "req/s, ping/healthz and server CPU: median over rounds (each round's ratio in brackets); p99: worst round"
echo
echo "| keys | healthz req/s | ping req/s | ping/healthz | healthz p99 | ping p99 | server CPU us/req healthz / ping |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${ROWS[@]}"
echo
echo "raw output: $RESULTS_DIR"
if [ ${#MISSED[@]} -eq 0 ]; then
    echo "targets met (ping >= 0.8x healthz at 1,000 keys, >= 0.75x at 1,000,000; p99 < 10 ms)"
else
    echo "targets NOT met:"
    printf '  %s\n' "${MISSED[@]}"
    exit 1
fi
