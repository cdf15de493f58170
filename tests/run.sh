#!/usr/bin/env bash
# Runs every Keywarden test on a fresh Debian machine: `cargo test` inside a private desktop session
# (Xvfb, D-Bus, an unlocked gnome-keyring, dunst; see tests/session.sh), which installs the system
# packages the tests need when they are missing. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec tests/session.sh cargo test "$@"
