#!/usr/bin/env bash
# Builds the Debian package target/debian/keywarden_<version>-1_<arch>.deb with cargo-deb
# (`cargo install cargo-deb --locked`): the release binary, then the man pages and the bash, zsh
# and fish completions made from its command-line definitions (`keywarden assets`), then
# `cargo deb`, which takes what Cargo.toml's [package.metadata.deb] lists. The binary in the
# package is stripped; extra arguments go to `cargo deb` (`--maintainer "Name <mail>"`).
#
#   packaging/deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deb --version >/dev/null 2>&1; then
  echo "packaging/deb.sh: this needs cargo-deb: cargo install cargo-deb --locked" >&2
  exit 1
fi
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
cargo build --release --locked
rm -rf "$target/release/assets"
"$target/release/keywarden" assets "$target/release/assets" >/dev/null
# Compressed as Debian's policy asks (cargo-deb leaves files from the target directory as they are).
gzip -9n "$target/release/assets/man/man1/"*.1
cargo deb --no-build --strip "$@"
