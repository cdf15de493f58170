#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL cluster: installs Debian's `postgresql` when missing,
# creates a cluster in a temporary directory (initdb, as the unprivileged `postgres` user when run as
# root, since PostgreSQL refuses to run as root), starts it on a free loopback port, and exports
#   KEYWARDEN_TEST_POSTGRES=postgres://kw_admin:PASSWORD@127.0.0.1:PORT/postgres
# (a superuser with a password: tests create a database each from it). The cluster and its
# directory are removed afterwards; the command's exit code comes back out. It trades durability
# for speed (fsync off): nothing in it outlives the run.
#
#   tests/postgres.sh COMMAND [ARGS...]
set -euo pipefail

source "$(dirname "$0")/packages.sh"
ensure_packages postgresql

bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "$0: no PostgreSQL server under /usr/lib/postgresql" >&2; exit 1; }

PG_DIR=$(mktemp -d /tmp/kw-postgres.XXXXXX)
as=()
if [ "$(id -u)" -eq 0 ]; then
  as=(runuser -u postgres --)
  chown postgres: "$PG_DIR"
fi
stop() {
  "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" stop -m immediate >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap stop EXIT

password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
(umask 077 && printf '%s\n' "$password" >"$PG_DIR/password")
[ "$(id -u)" -ne 0 ] || chown postgres: "$PG_DIR/password"
"${as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U kw_admin --pwfile="$PG_DIR/password" \
  --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
  { cat "$PG_DIR/initdb.log" >&2; exit 1; }

# A free port: try from a random start until the server comes up on one.
port=$((20000 + RANDOM % 20000))
for _ in 1 2 3 4 5 6 7 8 9 10; do
  if "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 start \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=500 \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null; then
    started=1
    break
  fi
  port=$((port + 1))
done
[ -n "${started:-}" ] || { echo "$0: PostgreSQL did not start:" >&2; cat "$PG_DIR/server.log" >&2; exit 1; }

export KEYWARDEN_TEST_POSTGRES="postgres://kw_admin:$password@127.0.0.1:$port/postgres"
"$@"
