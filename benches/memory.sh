#!/usr/bin/env bash
# The empty app's memory with and without the start-up order (build.rs), side by side: both
# release binaries started in turn, MEMORY_RUNS (3) times each with a fresh data directory, under
# Xvfb in a private session (tests/session.sh); for each start VmRSS and the binary's own resident
# pages (/proc/PID/smaps), MEMORY_AFTER (6) seconds after the start.
#
#   bash benches/memory.sh                 # builds both variants (two release links, ~5 min)
#   bash benches/memory.sh BIN...          # measures the binaries given instead
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${KW_SESSION:-}" ]; then
  if [ $# -eq 0 ]; then
    mkdir -p target/memory-bench
    KEYWARDEN_NO_STARTUP_ORDER=1 cargo build --release --quiet --bin keywarden
    cp target/release/keywarden target/memory-bench/keywarden-unordered
    cargo build --release --quiet --bin keywarden
    cp target/release/keywarden target/memory-bench/keywarden-ordered
    set -- target/memory-bench/keywarden-unordered target/memory-bench/keywarden-ordered
  fi
  exec tests/session.sh bash "$0" "$@"
fi

RUNS=${MEMORY_RUNS:-3}
AFTER=${MEMORY_AFTER:-6}
echo "| binary | start | VmRSS | the binary resident |"
echo "| --- | ---: | ---: | ---: |"
for run in $(seq "$RUNS"); do
  for bin in "$@"; do
    home=$(mktemp -d)
    XDG_DATA_HOME=$home/data XDG_CONFIG_HOME=$home/config XDG_CACHE_HOME=$home/cache \
      "$bin" >/dev/null 2>&1 &
    pid=$!
    sleep "$AFTER"
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
    own=$(awk -v b="$(readlink -f "$bin")" '/^[0-9a-f]+-/ { cur = $6 } /^Rss:/ { if (cur == b) s += $2 } END { print s }' "/proc/$pid/smaps")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$home"
    awk -v b="$(basename "$bin")" -v r="$run" -v rss="$rss" -v own="$own" \
      'BEGIN { printf "| %s | %d | %.1f MiB | %.1f MiB |\n", b, r, rss / 1024, own / 1024 }'
  done
done
