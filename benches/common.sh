# Shell helpers shared by the server benchmarks (load.sh, abuse.sh): installing a missing tool,
# stopping the server on exit, reading wrk's output, the server's CPU time, medians. Source it after
# setting SCRIPT (the name errors are prefixed with) and RESULTS_DIR (where wrk's output is kept).

fail() {
    echo "$SCRIPT: $*" >&2
    exit 1
}

# Installs a Debian package when its command is missing; as root directly, otherwise through sudo.
ensure_command() {
    local command=$1 package=$2
    command -v "$command" >/dev/null 2>&1 && return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            fail "$command is missing and installing it needs root; run: sudo apt-get install -y $package"
        fi
    fi
    echo "$SCRIPT: installing $package" >&2
    local install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$package")
    if ! "${install[@]}" >/dev/null 2>&1; then
        "${sudo[@]}" apt-get update >/dev/null 2>&1 || true
        "${install[@]}" >/dev/null \
            || fail "could not install $package with apt-get; install it and run again"
    fi
    command -v "$command" >/dev/null 2>&1 || fail "$package was installed but $command is still not on PATH"
}

SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# wrk prints latencies as 812.00us, 1.23ms, 1.02s or 1.00m; this gives milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; unit = v; sub(/^[0-9.]+/, "", unit)
        if (unit == "us") n /= 1000; else if (unit == "s") n *= 1000; else if (unit == "m") n *= 60000
        else if (unit != "ms") { print "?"; exit 1 }
        printf "%.2f", n }'
}

# CPU time the server process has used so far, in clock ticks (user + system).
server_ticks() {
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$SERVER_PID/stat"
}

# Runs wrk, keeps its output, and sets REQS (requests/s), P99 (ms) and CPU_US (server CPU time per
# request in microseconds: unlike req/s it hardly depends on what else the two cores are doing).
# Non-2xx answers fail the run unless WRK_REFUSALS_EXPECTED is set (when refusals are measured).
run_wrk() {
    local name=$1 url=$2 out ticks_before ticks_after
    shift 2
    out="$RESULTS_DIR/$name.txt"
    ticks_before=$(server_ticks)
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" >"$out"
    ticks_after=$(server_ticks)
    if [ -z "${WRK_REFUSALS_EXPECTED:-}" ] && grep -q 'Non-2xx or 3xx responses' "$out"; then
        cat "$out" >&2
        fail "$name: some responses were not 2xx, so the numbers would not measure successful requests"
    fi
    if grep -q 'Socket errors' "$out"; then
        echo "$SCRIPT: $name: $(grep 'Socket errors' "$out")" >&2
    fi
    REQS=$(awk '$1 == "Requests/sec:" { print $2 }' "$out")
    local p99
    p99=$(awk '$1 == "99%" { print $2; exit }' "$out")
    [ -n "$REQS" ] && [ -n "$p99" ] || fail "$name: cannot read wrk's output in $out"
    P99=$(to_ms "$p99")
    CPU_US=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$(getconf CLK_TCK)" \
        '/ requests in / { printf "%.1f", t / hz * 1e6 / $1 }' "$out")
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

maximum() {
    printf '%s\n' "$@" | sort -g | tail -n 1
}
