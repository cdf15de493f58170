#!/usr/bin/env bash
# Runs every Keywarden test on a fresh Debian machine: `cargo test` beside a throwaway PostgreSQL
# cluster (tests/postgres.sh) inside a private desktop session (Xvfb, D-Bus, an unlocked
# gnome-keyring, dunst; see tests/session.sh) with a headless Wayland compositor beside it
# (tests/wayland.sh); each installs the Debian packages it needs when missing. Then the
# end-to-end server tests run a second time on PostgreSQL (KEYWARDEN_TEST_BACKEND=postgres), and
# the Debian package is built, installed, checked and removed (tests/package.sh). Extra arguments
# go to a single `cargo test` instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if (($#)); then
  exec tests/postgres.sh tests/session.sh tests/wayland.sh cargo test "$@"
fi
exec tests/postgres.sh tests/session.sh tests/wayland.sh bash -c \
  'cargo test && KEYWARDEN_TEST_BACKEND=postgres cargo test --test server && tests/package.sh'
