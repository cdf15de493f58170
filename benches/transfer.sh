#!/usr/bin/env bash
# Backup, restore and import of 1,000 keys with the release binary, in a private desktop session
# (tests/session.sh: the real keychain, Debian's age and keepassxc-cli). Each round starts from an
# empty keychain and new data directories ("computers"):
#   import    `keywarden import` of a 1,000-line .env file (the keys every other step uses), and
#             of a 1,000-entry KeePassXC database made by keepassxc-cli (KDBX 4, its AES-KDF tuned
#             by keepassxc-cli to 100 ms) beside the same database with one entry: the difference
#             is the 999 entries' part, the one-entry import the database's key derivation and the
#             start of the program.
#   backup    `keywarden backup` of the 1,000 keys with a passphrase, beside the same with an age
#             recipient (X25519, no key derivation): the difference is the passphrase's key
#             derivation (age's scrypt), the recipient backup the rest (keychain reads, JSON,
#             encryption); and the file's size.
#   restore   `keywarden restore` of each file on a new computer with an emptied keychain,
#             the same way: passphrase against identity.
# TRANSFER_ROUNDS (3) rounds; medians of wall time.
#
#   bash benches/transfer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${KW_SESSION:-}" ]; then
  cargo build --release --quiet --bin keywarden
  exec tests/session.sh bash "$0" "$@"
fi

ROUNDS=${TRANSFER_ROUNDS:-3}
COUNT=1000
BIN=$PWD/target/release/keywarden
WORK="$XDG_RUNTIME_DIR/transfer-bench"
mkdir -p "$WORK"
PASSPHRASE="a long backup passphrase"

now_ns() { date +%s%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ms() { printf '%s\n' "$@" | median | awk '{ printf "%.0f", $1 / 1e6 }'; }

# Runs keywarden on the computer $1 (its own XDG directories), stdin from $2.
on() {
  local computer=$1 input=$2
  shift 2
  XDG_CONFIG_HOME="$WORK/$computer/config" XDG_DATA_HOME="$WORK/$computer/data" \
    XDG_CACHE_HOME="$WORK/$computer/cache" "$BIN" "$@" <"$input" >/dev/null
}
new_computer() { rm -rf "${WORK:?}/$1"; mkdir -p "$WORK/$1"; }
empty_keychain() { secret-tool clear service keywarden 2>/dev/null || true; }
timed() { local t; t=$(now_ns); "$@"; echo $(( $(now_ns) - t )); }

# The files: a .env of COUNT keys, KeePassXC databases of COUNT entries and of one.
python3 - "$WORK" "$COUNT" <<'PY'
import base64, os, secrets, string, sys
work, count = sys.argv[1], int(sys.argv[2])
alnum = string.ascii_letters + string.digits
# Random letters and digits, at least one of each: what a key looks like to the import.
key = lambda: "".join(secrets.choice(alnum) for _ in range(30)) + secrets.choice(string.ascii_letters) + secrets.choice(string.digits)
with open(f"{work}/keys.env", "w") as f:
    for i in range(count):
        f.write(f"SERVICE_{i:04d}_API_KEY={key()}\n")
def xml(n):
    uuid = lambda: base64.b64encode(os.urandom(16)).decode()
    entries = "".join(
        f"<Entry><UUID>{uuid()}</UUID><Times><Expires>True</Expires>"
        f"<ExpiryTime>2027-06-01T00:00:00Z</ExpiryTime></Times><Tags>api</Tags>"
        f"<CustomData><Item><Key>bench</Key><Value>1</Value></Item></CustomData>"
        f"<String><Key>Title</Key><Value>service key {i:04d}</Value></String>"
        f"<String><Key>Password</Key><Value ProtectInMemory=\"True\">{key()}</Value></String>"
        f"<String><Key>URL</Key><Value>https://api{i}.example</Value></String>"
        f"<String><Key>Notes</Key><Value>seeded entry {i}</Value></String></Entry>"
        for i in range(n))
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<KeePassFile><Meta>"
            "<Generator>keywarden-bench</Generator></Meta><Root><Group>"
            f"<UUID>{uuid()}</UUID><Name>Root</Name>{entries}</Group></Root></KeePassFile>\n")
for n, name in ((count, "big"), (1, "one")):
    with open(f"{work}/{name}.xml", "w") as f:
        f.write(xml(n))
PY
for name in big one; do
  rm -f "$WORK/$name.kdbx"
  printf 'bench\nbench\n' | keepassxc-cli import -q -p -t 100 "$WORK/$name.xml" "$WORK/$name.kdbx" >/dev/null
done
printf '%s\n' "$PASSPHRASE" >"$WORK/passphrase"
echo bench >"$WORK/password"
age-keygen -o "$WORK/identity.txt" 2>/dev/null
RECIPIENT=$(age-keygen -y "$WORK/identity.txt")

env_import=() kdbx_big=() kdbx_one=() backup_pass=() backup_rec=() restore_pass=() restore_rec=()
for _ in $(seq 1 "$ROUNDS"); do
  empty_keychain
  new_computer source
  env_import+=("$(timed on source /dev/null import "$WORK/keys.env")")
  rm -f "$WORK/pass.age" "$WORK/rec.age"
  backup_pass+=("$(timed on source "$WORK/passphrase" backup "$WORK/pass.age")")
  backup_rec+=("$(timed on source /dev/null backup --recipient "$RECIPIENT" "$WORK/rec.age")")

  empty_keychain
  new_computer restored
  restore_pass+=("$(timed on restored "$WORK/passphrase" restore "$WORK/pass.age")")
  empty_keychain
  new_computer restored
  restore_rec+=("$(timed on restored /dev/null restore --identity "$WORK/identity.txt" "$WORK/rec.age")")
  # What was restored is in the keychain: every key.
  held=$(secret-tool search --all service keywarden 2>/dev/null | grep -c '^secret = ' || true)
  [ "$held" -eq "$COUNT" ] || { echo "transfer.sh: $held secrets after the restore, not $COUNT" >&2; exit 1; }

  empty_keychain
  new_computer kdbx
  kdbx_big+=("$(timed on kdbx "$WORK/password" import "$WORK/big.kdbx")")
  new_computer kdbx
  kdbx_one+=("$(timed on kdbx "$WORK/password" import "$WORK/one.kdbx")")
done
# Every entry of the big database came in.
held=$(secret-tool search --all service keywarden 2>/dev/null | grep -c '^secret = ' || true)
[ "$held" -eq $((COUNT + 1)) ] || { echo "transfer.sh: $held secrets after the imports, not $((COUNT + 1))" >&2; exit 1; }

size_kib=$(( $(stat -c %s "$WORK/pass.age") / 1024 ))
echo "$COUNT keys, $ROUNDS rounds; $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ); medians of wall time"
echo
echo "| step | time | part |"
echo "| --- | ---: | --- |"
bp=$(ms "${backup_pass[@]}") br=$(ms "${backup_rec[@]}") rp=$(ms "${restore_pass[@]}") rr=$(ms "${restore_rec[@]}")
kb=$(ms "${kdbx_big[@]}") ko=$(ms "${kdbx_one[@]}")
echo "| backup with a passphrase | $bp ms | key derivation $((bp - br)) ms, the rest $br ms (as with a recipient) |"
echo "| backup to an age recipient | $br ms | |"
echo "| restore with the passphrase | $rp ms | key derivation $((rp - rr)) ms, the rest $rr ms |"
echo "| restore with the identity | $rr ms | |"
echo "| import of a 1,000-line .env | $(ms "${env_import[@]}") ms | |"
echo "| import of a 1,000-entry KeePassXC database | $kb ms | $((kb - ko)) ms beyond the one-entry database |"
echo "| import of a one-entry KeePassXC database | $ko ms | its key derivation and the program's start |"
echo
echo "backup file: $size_kib KiB for $COUNT keys ($(stat -c %s "$WORK/pass.age") bytes with a passphrase, $(stat -c %s "$WORK/rec.age") with a recipient)"
