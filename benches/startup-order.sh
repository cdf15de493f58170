#!/usr/bin/env bash
# Records which functions the desktop app runs from start to its first frames, in the order
# Valgrind's callgrind first lists them, into assets/startup-order.txt: the linker places those
# first in a release build (build.rs), so the code the app starts with sits together in memory.
# Run it again after a change of compiler or of dependencies: the names carry hashes that change
# with them, and tests/package.sh fails once less than 90% of the names are in the release binary.
# Names with a `.llvm.` suffix are left out: that suffix changes with any edit of the code around
# them, so they would go stale at the next commit.
#
#   bash benches/startup-order.sh
#
# The app starts under callgrind in a private session (tests/session.sh) with an empty data
# directory, as the memory target is measured; the run ends (SIGTERM: a background job ignores
# SIGINT) 20 s after its first frame with the key list (callgrind makes it ~50x slower, so that
# covers the first seconds of a normal start).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${KW_SESSION:-}" ]; then
  cargo build --release --bin keywarden
  KW_EXTRA_PACKAGES="valgrind" exec tests/session.sh bash "$0" "$@"
fi

WORK="$XDG_RUNTIME_DIR/startup-order"
mkdir -p "$WORK/data" "$WORK/config" "$WORK/cache"
BIN=$(readlink -f target/release/keywarden)
XDG_DATA_HOME=$WORK/data XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache \
  RUST_LOG=keywarden=info valgrind --tool=callgrind --demangle=no --dump-instr=no \
  --callgrind-out-file="$WORK/callgrind.out" "$BIN" >"$WORK/app.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  sleep 1
  grep -q "first frame with the key list" "$WORK/app.log" && break
done
grep -q "first frame with the key list" "$WORK/app.log" || {
  echo "startup-order.sh: the app showed no list within 10 minutes under callgrind" >&2
  kill -TERM "$pid"; exit 1
}
sleep 20
kill -TERM "$pid"
wait "$pid" || true

# callgrind names each object (ob=) and function (fn=) once in full, then by number.
python3 - "$WORK/callgrind.out" "$BIN" >"$WORK/order.txt" <<'PY'
import re, sys
out, binary = sys.argv[1], sys.argv[2]
objects, functions, current, seen = {}, {}, None, {}
for line in open(out, errors="replace"):
    m = re.match(r"(c?ob)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
    if m:
        if m.group(3):
            objects[m.group(2)] = m.group(3)
        if m.group(1) == "ob":
            current = objects.get(m.group(2))
        continue
    m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
    if m:
        if m.group(3):
            functions[m.group(2)] = m.group(3)
        name = functions.get(m.group(2))
        if m.group(1) == "fn" and current == binary and name:
            # A recursion level (name'2) is the same function; "(below main)" and addresses
            # are no symbols.
            name = re.sub(r"'\d+$", "", name)
            if re.fullmatch(r"[A-Za-z_.$][A-Za-z0-9_.$]*", name) and ".llvm." not in name:
                seen.setdefault(name, None)
print("\n".join(seen))
PY
mv "$WORK/order.txt" assets/startup-order.txt
echo "startup-order.sh: $(wc -l <assets/startup-order.txt) functions in assets/startup-order.txt"
