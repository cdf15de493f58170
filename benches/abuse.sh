#!/usr/bin/env bash
# The server under abuse, measured on the release binary over loopback:
#   1. server CPU per refused guess (a wrong key from an address past its limit: 429, answered
#      before any lookup) against per successful `GET /v1/ping`, side by side in alternating rounds;
#   2. resident memory under bursts of 64 concurrent wrong logins, each burst from 64 addresses
#      (127.0.B.1-64) so the per-address limit does not hide the bound on password hashing;
#   3. the time of a wrong sign-in to a known email against an unknown one, alternating, each from
#      a fresh address (it must not tell which emails exist).
#
#   bash benches/abuse.sh
#
# Overrides: ABUSE_DURATION [10s], ABUSE_ROUNDS [3], ABUSE_BURSTS [3], ABUSE_LOGINS [30],
# ABUSE_PORT [18081]. Guessing and pinging both go through `--trusted-proxy 127.0.0.1` with their
# own `X-Forwarded-For` address, since wrk cannot choose its source address: the guesses are refused
# and the pings are not. Exits 1 when peak memory reaches 300 MiB. Everything stays on 127.0.0.0/8.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${ABUSE_DURATION:-10s}
ROUNDS=${ABUSE_ROUNDS:-3}
BURSTS=${ABUSE_BURSTS:-3}
LOGINS=${ABUSE_LOGINS:-30}
PORT=${ABUSE_PORT:-18081}
THREADS=2
CONNECTIONS=64
BASE="http://127.0.0.1:$PORT"
TARGET_DIR=${CARGO_TARGET_DIR:-target}
RESULTS_DIR="$TARGET_DIR/bench-data/abuse-$(date -u +%Y%m%dT%H%M%SZ)"
PASSWORD="abuse bench password"

SCRIPT=abuse.sh
# shellcheck source=benches/common.sh
source benches/common.sh

ensure_command wrk wrk
ensure_command curl curl
echo "abuse.sh: building (cargo build --release)" >&2
cargo build --release --quiet
BIN="$TARGET_DIR/release/keywarden"
mkdir -p "$RESULTS_DIR"
if curl -s -o /dev/null --max-time 1 "$BASE/healthz"; then
    fail "something already answers on port $PORT; set ABUSE_PORT to a free port"
fi

DB="sqlite://$RESULTS_DIR/server.db"
printf '%s\n' "$PASSWORD" | "$BIN" user add --email owner@bench.invalid --role owner --database-url "$DB" >/dev/null
"$BIN" serve --listen "127.0.0.1:$PORT" --database-url "$DB" --trusted-proxy 127.0.0.1 \
    >"$RESULTS_DIR/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 200); do
    curl -fs -o /dev/null --max-time 1 "$BASE/healthz" && break
    sleep 0.05
done
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
session=$(curl -fs -H 'content-type: application/json' \
    -d "{\"email\":\"owner@bench.invalid\",\"password\":\"$PASSWORD\"}" "$BASE/v1/auth/login" | json_field "['token']")
key=$(curl -fs -H 'content-type: application/json' -H "authorization: Bearer $session" \
    -d '{"name":"bench","expires_in_days":30}' "$BASE/v1/keys" | json_field "['secret']")
wrong="kw_$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)000000"
[ -n "$key" ] || fail "no key"

# 1. CPU per refused guess vs per ping.
ping_all=() refused_all=() ratio_all=() ping_reqs_all=() refused_reqs_all=()
for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then order="ping refused"; else order="refused ping"; fi
    for what in $order; do
        if [ "$what" = ping ]; then
            run_wrk "ping-$round" "$BASE/v1/ping" -H "X-API-Key: $key" -H "X-Forwarded-For: 198.51.100.2"
            ping_cpu=$CPU_US; ping_all+=("$CPU_US"); ping_reqs_all+=("$REQS")
        else
            WRK_REFUSALS_EXPECTED=1 run_wrk "refused-$round" "$BASE/v1/ping" -H "X-API-Key: $wrong" \
                -H "X-Forwarded-For: 198.51.100.1"
            refused_cpu=$CPU_US; refused_all+=("$CPU_US"); refused_reqs_all+=("$REQS")
            grep -q 'Non-2xx or 3xx responses' "$RESULTS_DIR/refused-$round.txt" \
                || fail "the guesses were not refused"
        fi
    done
    ratio_all+=("$(awk -v r="$refused_cpu" -v p="$ping_cpu" 'BEGIN { printf "%.2f", r / p }')")
    echo "abuse.sh: round $round: server CPU per request: ping $ping_cpu us, refused guess $refused_cpu us (${ratio_all[-1]}x)" >&2
done
status=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $wrong" -H "X-Forwarded-For: 198.51.100.1" "$BASE/v1/ping")
[ "$status" = 429 ] || fail "a guess from the refused address got $status, not 429"

# 2. Memory under bursts of 64 concurrent wrong logins.
rss() { awk -v f="$1:" '$1 == f { print int($2 / 1024) }' "/proc/$SERVER_PID/status"; }
rss_before=$(rss VmRSS)
codes="$RESULTS_DIR/login-codes.txt"
: >"$codes"
rss_after=()
for burst in $(seq 1 "$BURSTS"); do
    for i in $(seq 1 64); do
        curl -s -o /dev/null -w '%{http_code}\n' --interface "127.0.$((100 + burst)).$i" \
            -H 'content-type: application/json' \
            -d "{\"email\":\"owner@bench.invalid\",\"password\":\"guess $i\"}" "$BASE/v1/auth/login" >>"$codes" &
    done
    wait $(jobs -p | grep -v "^$SERVER_PID\$") 2>/dev/null || true
    sleep 1
    rss_after+=("$(rss VmRSS)")
done
peak=$(rss VmHWM)
unauthorized=$(grep -c '^401$' "$codes" || true)
busy=$(grep -c '^429$' "$codes" || true)

# 3. Known vs unknown email, alternating, each attempt from a fresh address.
known=() unknown=()
for i in $(seq 1 "$LOGINS"); do
    for who in known unknown; do
        if [ "$who" = known ]; then email=owner@bench.invalid; else email="nobody$i@bench.invalid"; fi
        octet=$((i % 250 + 1)); third=$([ "$who" = known ] && echo 150 || echo 151)
        t=$(curl -s -o /dev/null -w '%{time_total}' --interface "127.0.$third.$octet" \
            -H 'content-type: application/json' \
            -d "{\"email\":\"$email\",\"password\":\"wrong password\"}" "$BASE/v1/auth/login")
        if [ "$who" = known ]; then known+=("$t"); else unknown+=("$t"); fi
    done
done
known_ms=$(awk -v s="$(median "${known[@]}")" 'BEGIN { printf "%.1f", s * 1000 }')
unknown_ms=$(awk -v s="$(median "${unknown[@]}")" 'BEGIN { printf "%.1f", s * 1000 }')
stop_server

echo "abuse.sh: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds"
echo
echo "| measure | result |"
echo "| --- | --- |"
echo "| server CPU per refused guess / per successful ping (median of rounds) | $(median "${ratio_all[@]}")x (${ratio_all[*]}); $(median "${refused_all[@]}") us vs $(median "${ping_all[@]}") us |"
echo "| requests/s: refused guesses, pings (medians) | $(median "${refused_reqs_all[@]}"), $(median "${ping_reqs_all[@]}") |"
echo "| resident memory: before, after each of $BURSTS bursts of 64 logins, peak | $rss_before MiB; ${rss_after[*]} MiB; peak $peak MiB |"
echo "| answers to the $((BURSTS * 64)) burst logins | $unauthorized 401 (checked), $busy 429 (busy, Retry-After) |"
echo "| wrong sign-in, known vs unknown email (median of $LOGINS each) | $known_ms ms vs $unknown_ms ms ($(awk -v k="$known_ms" -v u="$unknown_ms" 'BEGIN { printf "%.2f", u / k }')x) |"
echo
echo "raw output: $RESULTS_DIR"
awk -v p="$peak" 'BEGIN { exit !(p < 300) }' || { echo "peak memory $peak MiB is not under 300 MiB"; exit 1; }
echo "target met: peak resident memory under 300 MiB"
