#!/usr/bin/env bash
# `keywarden env` on every `cd` into a project, against its floor: one Secret Service lookup
# (`secret-tool lookup` of one item), in a private desktop session (tests/session.sh: the real
# gnome-keyring). Two allowed projects, one naming 1 tracked key and one naming 10, and
# `keywarden run -- true` in the first; ENV_RUNS (20) runs of each, interleaved; medians of wall
# time and the ratios (targets: 1 key at most 1.5x the lookup, 10 keys at most 2x).
#
#   bash benches/env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${KW_SESSION:-}" ]; then
  cargo build --release --quiet --bin keywarden
  exec tests/session.sh bash "$0" "$@"
fi

RUNS=${ENV_RUNS:-20}
BIN=$PWD/target/release/keywarden
WORK="$XDG_RUNTIME_DIR/env-bench"
mkdir -p "$WORK/one" "$WORK/ten"

for i in $(seq 1 10); do
  printf 'ghp_benchEnvBenchEnvBenchEnv%08d\n' "$i" |
    "$BIN" keys add --service github --name "key$i" --expires 90d >/dev/null
done
printf '[env]\nK1 = "kw://tracked/key1"\n' >"$WORK/one/.keywarden.toml"
{
  echo '[env]'
  for i in $(seq 1 10); do echo "K$i = \"kw://tracked/key$i\""; done
} >"$WORK/ten/.keywarden.toml"
(cd "$WORK/one" && "$BIN" allow >/dev/null)
(cd "$WORK/ten" && "$BIN" allow >/dev/null)
ID=$("$BIN" keys show key1 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
ITEM="tracked key $ID on tracked"
[ "$(secret-tool lookup service keywarden username "$ITEM")" = "ghp_benchEnvBenchEnvBenchEnv00000001" ] ||
  { echo "env.sh: the item is not where secret-tool looks" >&2; exit 1; }
[ "$(cd "$WORK/ten" && "$BIN" env | grep -c '^export K')" -eq 10 ] ||
  { echo "env.sh: keywarden env did not print 10 variables" >&2; exit 1; }

now_ns() { date +%s%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
lookup=() one=() ten=() run=()
for _ in $(seq 1 "$RUNS"); do
  # Each timed alone: a subshell around a command (`(cd DIR && …)`) costs as much as the lookup.
  cd "$WORK/one"
  t=$(now_ns); secret-tool lookup service keywarden username "$ITEM" >/dev/null; lookup+=($(( $(now_ns) - t )))
  t=$(now_ns); "$BIN" env >/dev/null; one+=($(( $(now_ns) - t )))
  t=$(now_ns); "$BIN" run -- true; run+=($(( $(now_ns) - t )))
  cd "$WORK/ten"
  t=$(now_ns); "$BIN" env >/dev/null; ten+=($(( $(now_ns) - t )))
done
ms() { printf '%s\n' "$@" | median | awk '{ printf "%.1f", $1 / 1e6 }'; }
l=$(ms "${lookup[@]}") o=$(ms "${one[@]}") t=$(ms "${ten[@]}") r=$(ms "${run[@]}")
echo "$RUNS runs each, interleaved; $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ); medians of wall time"
echo
echo "| command | time | against the lookup |"
echo "| --- | ---: | ---: |"
echo "| \`secret-tool lookup\` of one item | $l ms | 1 |"
awk -v l="$l" -v o="$o" -v t="$t" -v r="$r" 'BEGIN {
  printf "| `keywarden env`, 1 key | %s ms | %.2f× (target ≤ 1.5×) |\n", o, o / l
  printf "| `keywarden env`, 10 keys | %s ms | %.2f× (target ≤ 2×) |\n", t, t / l
  printf "| `keywarden run -- true`, 1 key | %s ms | %.2f× |\n", r, r / l }'
