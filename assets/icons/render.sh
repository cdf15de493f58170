#!/usr/bin/env bash
# Renders the icon's PNGs in the hicolor sizes from the SVG (Debian package librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")"
for size in 16 24 32 48 64 128 256 512; do
  rsvg-convert -w "$size" -h "$size" dev.keywarden.Keywarden.svg -o "dev.keywarden.Keywarden-$size.png"
done
