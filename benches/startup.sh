#!/usr/bin/env bash
# Start-up time and memory of the desktop app holding 10,000 keys, beside KeePassXC holding 10,000
# entries, both started the same way under Xvfb in a private session (tests/session.sh).
#
#   bash benches/startup.sh            # STARTUP_RUNS=5 STARTUP_KEYS=10000 by default
#
# Three programs, run in turn (interleaved) after one unmeasured warm-up run each:
#   keywarden (cached list)  the usual start: the list saved by the last run is shown at once
#   keywarden (no cache)     the saved list is deleted first: the list comes from the server
#   keepassxc                Debian's KeePassXC opening a 10,000-entry database (--pw-stdin)
# For each run it records, from the moment the program is started:
#   window  the first visible window (polling `xdotool search --pid PID --onlyvisible`)
#   list    the first frame that shows the list: Keywarden's log line "first frame with the key
#           list" (RUST_LOG=keywarden=info); for KeePassXC the window title naming the open database
#   RSS     VmRSS from /proc/PID/status 2 s after the window showed
#   idle    the CPU time (user + system, /proc/PID/stat) the program uses in the next
#           STARTUP_IDLE seconds (5 by default) with nothing happening: an app that does not
#           repaint while idle uses next to none
# and prints the medians and the ratios to KeePassXC. It fails if a program does not get there
# within 20 s, or if Keywarden shows a list of another size or from the wrong source.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${KW_SESSION:-}" ]; then
  cargo build --release --bin keywarden --example seed
  KW_EXTRA_PACKAGES="keepassxc xdotool" exec tests/session.sh bash "$0" "$@"
fi

RUNS=${STARTUP_RUNS:-5}
IDLE=${STARTUP_IDLE:-5}
TICK_MS=$((1000 / $(getconf CLK_TCK)))
KEYS=${STARTUP_KEYS:-10000}
WORK="$XDG_RUNTIME_DIR/startup"
mkdir -p "$WORK"
KEYWARDEN=target/release/keywarden

now_ms() { echo $(($(date +%s%N) / 1000000)); }
fail() { echo "benches/startup.sh: $*" >&2; exit 1; }

echo "seeding $KEYS keys for the app's local owner" >&2
target/release/examples/seed --database-url "sqlite://$XDG_DATA_HOME/keywarden/server.db" \
  --keys "$KEYS" --workspace default --owner owner@localhost >/dev/null

echo "creating a KeePassXC database with $KEYS entries" >&2
awk -v n="$KEYS" 'BEGIN {
  srand(); b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
  print "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>"
  print "<KeePassFile><Meta><Generator>keywarden-bench</Generator><DatabaseName>bench</DatabaseName></Meta>"
  printf "<Root><Group><UUID>%s</UUID><Name>Root</Name>\n", uuid()
  for (i = 0; i < n; i++) {
    printf "<Entry><UUID>%s</UUID><String><Key>Title</Key><Value>service key %05d</Value></String>", uuid(), i
    printf "<String><Key>Password</Key><Value ProtectInMemory=\"True\">kw_%s</Value></String>", rnd(alnum, 38)
    printf "<String><Key>Notes</Key><Value>seeded key number %d</Value></String></Entry>\n", i
  }
  print "</Group></Root></KeePassFile>"
}
function rnd(set, len,   s, j) { s = ""; for (j = 0; j < len; j++) s = s substr(set, int(rand() * length(set)) + 1, 1); return s }
function uuid() { return rnd(b64, 21) substr("AQgw", int(rand() * 4) + 1, 1) "==" }' >"$WORK/bench.xml"
printf 'bench\nbench\n' | keepassxc-cli import -q -p -t 100 "$WORK/bench.xml" "$WORK/bench.kdbx" >/dev/null

# CPU time of a process so far, in ms.
cpu_ms() { awk -v t="$TICK_MS" '{ sub(/^.*\) /, ""); print ($12 + $13) * t }' "/proc/$1/stat"; }

# Runs one program and prints "window_ms list_ms rss_kib idle_cpu_ms". $1: keywarden-cached, keywarden-fresh
# or keepassxc.
measure() {
  local kind=$1 log="$WORK/$1.log" pid window="" window_ms="" list_ms="" start
  case $kind in
  keywarden-fresh) rm -rf "$XDG_CACHE_HOME/keywarden/lists" ;;
  esac
  start=$(now_ms)
  case $kind in
  keywarden-*) RUST_LOG=keywarden=info "$KEYWARDEN" 2>"$log" & pid=$! ;;
  keepassxc) echo bench | keepassxc --pw-stdin "$WORK/bench.kdbx" >"$log" 2>&1 & pid=$! ;;
  esac
  while [ -z "$list_ms" ] || [ -z "$window_ms" ]; do
    (($(now_ms) - start < 20000)) || { kill "$pid"; fail "$kind: no window or no list after 20 s (log: $(tail -3 "$log"))"; }
    if [ -z "$window_ms" ]; then
      window=$(xdotool search --pid "$pid" --onlyvisible 2>/dev/null | head -1 || true)
      [ -n "$window" ] && window_ms=$(($(now_ms) - start))
    fi
    if [ -z "$list_ms" ]; then
      case $kind in
      keywarden-*) grep -q "first frame with the key list" "$log" && list_ms=$(($(now_ms) - start)) ;;
      keepassxc) [ -n "$window" ] && [ "$(xdotool getwindowname "$window" 2>/dev/null)" = "bench - KeePassXC" ] &&
        list_ms=$(($(now_ms) - start)) ;;
      esac
    fi
    sleep 0.005
  done
  sleep "$(awk -v t="$window_ms" -v n="$(now_ms)" -v s="$start" 'BEGIN { w = (s + t + 2000 - n) / 1000; print (w > 0 ? w : 0) }')"
  local rss cpu_before cpu_after
  rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
  cpu_before=$(cpu_ms "$pid")
  sleep "$IDLE"
  cpu_after=$(cpu_ms "$pid")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  case $kind in
  keywarden-cached) grep -q "first frame with the key list: $KEYS keys from the cache" "$log" ||
    fail "keywarden did not show the saved list first: $(grep 'first frame' "$log")" ;;
  keywarden-fresh) grep -q "first frame with the key list: $KEYS keys from the server" "$log" ||
    fail "keywarden did not show the server's list: $(grep 'first frame' "$log")" ;;
  esac
  echo "$window_ms $list_ms $rss $((cpu_after - cpu_before))"
}

kinds=(keywarden-cached keywarden-fresh keepassxc)
echo "warm-up run of each" >&2
for kind in keywarden-fresh "${kinds[@]}"; do measure "$kind" >/dev/null; done
for run in $(seq "$RUNS"); do
  for kind in "${kinds[@]}"; do
    result=$(measure "$kind")
    echo "run $run $kind: window ms, list ms, RSS KiB, idle CPU ms: $result" >&2
    echo "$result" >>"$WORK/$kind.results"
  done
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
column() { awk -v c="$2" '{ print $c }' "$WORK/$1.results" | median; }
echo
echo "Medians of $RUNS runs, $KEYS keys/entries, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown):"
echo
echo "| program | window | list shown | RSS after 2 s | idle CPU in ${IDLE} s | window / KeePassXC | list / KeePassXC | RSS / KeePassXC |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
kp_window=$(column keepassxc 1) kp_list=$(column keepassxc 2) kp_rss=$(column keepassxc 3)
for kind in "${kinds[@]}"; do
  w=$(column "$kind" 1) l=$(column "$kind" 2) r=$(column "$kind" 3) c=$(column "$kind" 4)
  awk -v k="$kind" -v w="$w" -v l="$l" -v r="$r" -v c="$c" -v kw="$kp_window" -v kl="$kp_list" -v kr="$kp_rss" 'BEGIN {
    printf "| %s | %d ms | %d ms | %.0f MiB | %d ms | %.2f | %.2f | %.2f |\n", k, w, l, r / 1024, c, w / kw, l / kl, r / kr }'
done
