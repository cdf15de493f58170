#!/usr/bin/env bash
# `keywarden run` beside running the command directly, in a private desktop session
# (tests/session.sh: the real keychain), with one tracked key held:
#   start-up  `keywarden run --env K=kw://tracked/bench -- true` against `true`, RUN_STARTS (20)
#             runs of each, interleaved: median wall time and the ratio
#   masking   `keywarden run --env K=… -- cat FILE` against `cat FILE`, and against `cat FILE | cat`
#             (the same one pipe a masked run reads from), a RUN_MEGABYTES (100) MB text file
#             holding the secret and its first half now and then, output to /dev/null; and both
#             with their output read by another program (`| wc -c`), RUN_ROUNDS (3) rounds
#             interleaved: median times and the ratios (target < 2)
#
#   bash benches/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${KW_SESSION:-}" ]; then
  cargo build --release --quiet --bin keywarden
  exec tests/session.sh bash "$0" "$@"
fi

STARTS=${RUN_STARTS:-20}
ROUNDS=${RUN_ROUNDS:-3}
MEGABYTES=${RUN_MEGABYTES:-100}
BIN=target/release/keywarden
WORK="$XDG_RUNTIME_DIR/run-bench"
mkdir -p "$WORK"
SECRET="ghp_benchBenchBenchBenchBenchBenchBench1"
printf '%s\n' "$SECRET" | "$BIN" keys add --service github --name bench --expires 90d >/dev/null

# A text file of MEGABYTES MB: lines of log-like text, the secret in one line of 1,000 and its
# first half (held back, then concealed: 8 or more of its characters) in another.
python3 - "$WORK/big.txt" "$MEGABYTES" "$SECRET" <<'PY'
import sys
path, megabytes, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3]
line = "2026-11-25T09:00:00Z INFO request handled in 3 ms path=/v1/ping status=200\n"
block = "".join(
    (f"token={secret}\n" if i == 500 else f"prefix={secret[:20]}\n" if i == 900 else line)
    for i in range(1000)
).encode()
with open(path, "wb") as f:
    for _ in range(megabytes * 1024 * 1024 // len(block) + 1):
        f.write(block)
PY
BYTES=$(stat -c %s "$WORK/big.txt")

now_ns() { date +%s%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

direct=() wrapped=()
for _ in $(seq 1 "$STARTS"); do
  t=$(now_ns); true; direct+=($(( $(now_ns) - t )))
  t=$(now_ns); "$BIN" run --env K=kw://tracked/bench -- true; wrapped+=($(( $(now_ns) - t )))
done
direct_ms=$(printf '%s\n' "${direct[@]}" | median | awk '{ printf "%.2f", $1 / 1e6 }')
wrapped_ms=$(printf '%s\n' "${wrapped[@]}" | median | awk '{ printf "%.2f", $1 / 1e6 }')

cat_times=() piped_times=() masked_times=() read_times=() masked_read_times=()
for round in $(seq 1 "$ROUNDS"); do
  order="cat piped masked read masked_read"
  [ $((round % 2)) -eq 0 ] && order="masked_read read masked piped cat"
  for which in $order; do
    t=$(now_ns)
    case $which in
      cat) cat "$WORK/big.txt" >/dev/null; cat_times+=($(( $(now_ns) - t ))) ;;
      piped) cat "$WORK/big.txt" | cat >/dev/null; piped_times+=($(( $(now_ns) - t ))) ;;
      masked)
        "$BIN" run --env K=kw://tracked/bench -- cat "$WORK/big.txt" >/dev/null
        masked_times+=($(( $(now_ns) - t ))) ;;
      read) cat "$WORK/big.txt" | wc -c >/dev/null; read_times+=($(( $(now_ns) - t ))) ;;
      masked_read)
        "$BIN" run --env K=kw://tracked/bench -- cat "$WORK/big.txt" | wc -c >/dev/null
        masked_read_times+=($(( $(now_ns) - t ))) ;;
    esac
  done
done
# The masked output is right: neither the secret nor its first half appears (any run of 8 of
# its characters is concealed).
"$BIN" run --env K=kw://tracked/bench -- cat "$WORK/big.txt" >"$WORK/masked.txt"
! grep -q "$SECRET" "$WORK/masked.txt" || { echo "run.sh: a secret got through" >&2; exit 1; }
grep -q "prefix=<concealed by keywarden>" "$WORK/masked.txt" || { echo "run.sh: half a secret got through" >&2; exit 1; }

cat_s=$(printf '%s\n' "${cat_times[@]}" | median | awk '{ print $1 / 1e9 }')
piped_s=$(printf '%s\n' "${piped_times[@]}" | median | awk '{ print $1 / 1e9 }')
masked_s=$(printf '%s\n' "${masked_times[@]}" | median | awk '{ print $1 / 1e9 }')
read_s=$(printf '%s\n' "${read_times[@]}" | median | awk '{ print $1 / 1e9 }')
masked_read_s=$(printf '%s\n' "${masked_read_times[@]}" | median | awk '{ print $1 / 1e9 }')
echo "$STARTS start-ups each, $ROUNDS rounds of $((BYTES / 1024 / 1024)) MiB; $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| measure | direct | through keywarden run | ratio |"
echo "| --- | ---: | ---: | ---: |"
echo "| start to exit of \`true\` (median) | $direct_ms ms | $wrapped_ms ms | $(awk -v a="$wrapped_ms" -v b="$direct_ms" 'BEGIN { printf "%.0f", a / b }')× |"
awk -v c="$cat_s" -v p="$piped_s" -v m="$masked_s" -v r="$read_s" -v mr="$masked_read_s" -v bytes="$BYTES" 'BEGIN {
  printf "| `cat` of the file to /dev/null (median) | %.3f s (%.0f MB/s) | %.3f s (%.0f MB/s) | %.2f× |\n",
    c, bytes / c / 1e6, m, bytes / m / 1e6, m / c
  printf "| the same through one pipe, `cat | cat` (median) | %.3f s (%.0f MB/s) | %.3f s | %.2f× |\n",
    p, bytes / p / 1e6, m, m / p
  printf "| `cat` of the file read by `wc -c` (median) | %.3f s (%.0f MB/s) | %.3f s (%.0f MB/s) | %.2f× |\n",
    r, bytes / r / 1e6, mr, bytes / mr / 1e6, mr / r }'
