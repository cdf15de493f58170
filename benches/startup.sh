#!/usr/bin/env bash
# Start-up time and memory of the desktop app holding 10,000 keys, beside KeePassXC holding 10,000
# entries, both started the same way under Xvfb in a private session (tests/session.sh).
#
#   bash benches/startup.sh            # STARTUP_RUNS=5 STARTUP_KEYS=10000 by default
#
# Five programs, run in turn (interleaved) after one unmeasured warm-up run each:
#   keywarden (cached list)  the usual start: the list saved by the last run is shown at once
#   keywarden (no cache)     the saved list is deleted first: the list comes from the server
#   keywarden (five sources) the same 10,000 keys spread over five accounts: this computer's
#                            server, two Keywarden servers and a ThingsBoard account that cannot be
#                            reached (their saved lists are shown), and tracked keys
#   keywarden (empty)        a fresh data directory: no key at all (the memory target)
#   keepassxc                Debian's KeePassXC opening a 10,000-entry database (--pw-stdin)
# For each run it records, from the moment the program is started:
#   window  the first visible window (polling `xdotool search --pid PID --onlyvisible`)
#   list    the first frame that shows every account's list: Keywarden's log line "first frame with the key
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
  # The app built alone, as `cargo run --release` builds it: built together with the example, its
  # dependencies would get the dev-dependencies' features, other symbol names, and the recorded
  # start-up order (build.rs, benches/startup-order.sh) would not find them.
  cargo build --release --bin keywarden
  cargo build --release --example seed
  KW_EXTRA_PACKAGES="xdotool" exec tests/session.sh bash "$0" "$@"
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

# Five sources: a home of its own with 2,000 keys in each of the five accounts.
FIVE="$WORK/five"
PER=$((KEYS / 5))
mkdir -p "$FIVE/config/keywarden" "$FIVE/data/keywarden" "$FIVE/cache/keywarden/lists"
target/release/examples/seed --database-url "sqlite://$FIVE/data/keywarden/server.db" \
  --keys "$PER" --workspace default --owner owner@localhost >/dev/null
python3 - "$FIVE" "$PER" <<'PY'
import datetime, hashlib, json, os, sys
home, per = sys.argv[1], int(sys.argv[2])
now = datetime.datetime.now(datetime.timezone.utc)
def key(source, kind, service, i):
    return {"source": source, "kind": kind, "service": service, "id": f"{kind[:2]}{i}",
            "name": f"{source} key {i:05d}", "description": f"seeded key number {i}",
            "hint": "…abcd", "owner": "7", "created_at": now.isoformat(),
            "expires_at": (now + datetime.timedelta(days=1 + i % 365)).isoformat(),
            "enabled": True}
accounts = [("https://a.example", "keywarden", "keywarden"),
            ("https://b.example", "keywarden", "keywarden"), ("tb", "thingsboard", "thingsboard")]
config = ['current_server = "local"']
for name, kind, service in accounts:
    url = "http://127.0.0.1:9/" + name.replace("https://", "") if kind == "thingsboard" else name
    config += ["[[servers]]", f'url = "{url}"', 'email = "dev@example.com"', f'kind = "{kind}"']
    if kind == "thingsboard":
        config.append(f'name = "{name}"')
    cache_key = f"{kind}:{name}"
    file = hashlib.sha256(cache_key.encode()).hexdigest()[:16] + ".json"
    with open(os.path.join(home, "cache/keywarden/lists", file), "w") as out:
        json.dump({"server": cache_key, "email": "dev@example.com", "user_id": "7",
                   "saved_at": now.isoformat(),
                   "keys": [key(name, kind, service, i) for i in range(per)]}, out)
with open(os.path.join(home, "config/keywarden/config.toml"), "w") as out:
    out.write("\n".join(config) + "\n")
tracked = [{"id": f"t{i:05d}", "service": "github", "name": f"tracked key {i:05d}",
            "expires_at": (now + datetime.timedelta(days=1 + i % 365)).isoformat(),
            "added_at": now.isoformat()} for i in range(per)]
with open(os.path.join(home, "data/keywarden/tracked.json"), "w") as out:
    json.dump({"keys": tracked}, out)
PY
EMPTY="$WORK/empty"

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
  local home_env=()
  case $kind in
  keywarden-fresh) rm -rf "$XDG_CACHE_HOME/keywarden/lists" ;;
  keywarden-five) home_env=(XDG_CONFIG_HOME="$FIVE/config" XDG_DATA_HOME="$FIVE/data" XDG_CACHE_HOME="$FIVE/cache") ;;
  keywarden-empty)
    rm -rf "$EMPTY"
    home_env=(XDG_CONFIG_HOME="$EMPTY/config" XDG_DATA_HOME="$EMPTY/data" XDG_CACHE_HOME="$EMPTY/cache") ;;
  esac
  start=$(now_ms)
  case $kind in
  keywarden-*) env "${home_env[@]}" RUST_LOG=keywarden=info "$KEYWARDEN" 2>"$log" & pid=$! ;;
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
  keywarden-five) grep -q "first frame with the key list: $KEYS keys from the cache" "$log" ||
    fail "keywarden did not show the five saved lists: $(grep 'first frame' "$log")" ;;
  keywarden-empty) grep -q "first frame with the key list: 0 keys" "$log" ||
    fail "keywarden did not start empty: $(grep 'first frame' "$log")" ;;
  esac
  echo "$window_ms $list_ms $rss $((cpu_after - cpu_before))"
}

kinds=(keywarden-cached keywarden-fresh keywarden-five keywarden-empty keepassxc)
echo "warm-up run of each" >&2
for kind in keywarden-fresh "${kinds[@]}"; do measure "$kind" >/dev/null; done
# The five-source home's own server list is saved by its warm-up run; the others stay as written.
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
# How much of the recorded start-up order (build.rs) the binary still has: names that changed
# since benches/startup-order.sh recorded them are laid out wherever the linker puts them.
python3 - "$KEYWARDEN" <<'PY'
import subprocess, sys
names = set(open("assets/startup-order.txt").read().split())
nm = subprocess.run(["nm", "--defined-only", sys.argv[1]], capture_output=True, text=True).stdout
have = {line.split()[-1] for line in nm.splitlines() if len(line.split()) == 3}
print(f"\nStart-up order: {len(names & have)} of the {len(names)} functions in assets/startup-order.txt are in the binary.")
PY
