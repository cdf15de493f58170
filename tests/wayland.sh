#!/usr/bin/env bash
# Runs a command beside a headless Wayland compositor: Debian's sway (wlroots) with no screen
# (WLR_BACKENDS=headless, the pixman software renderer) and wl-clipboard, installed when missing.
# The command gets KW_WAYLAND_DISPLAY (the absolute path of sway's socket: a client is sent there
# with WAYLAND_DISPLAY=$KW_WAYLAND_DISPLAY) and KW_SWAYSOCK (for swaymsg); the tests that need
# them (tests/cli/wayland.rs) fail with a sentence when they are missing. Everything else stays on
# X11. The command's exit code comes back out.
#
#   tests/wayland.sh COMMAND [ARGS...]
#
# sway refuses to run as root: as root, it runs as the system user kw-wayland (made when missing).
# Root's clients may use its socket all the same.
set -euo pipefail
source "$(dirname "$0")/packages.sh"
ensure_packages sway wl-clipboard

user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
  user=kw-wayland
  id -u "$user" >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
fi
# Its own runtime directory, which that user can reach (so not inside a root-only directory).
dir=$(mktemp -d /tmp/kw-wayland.XXXXXX)
cleanup() {
  if [ -n "${sway:-}" ]; then
    kill "$sway" 2>/dev/null || true
    wait "$sway" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
cat >"$dir/sway.conf" <<'EOF'
xwayland disable
output HEADLESS-1 resolution 1280x800 position 0 0
default_border none
EOF
chmod 644 "$dir/sway.conf"
chown "$user:" "$dir"
chmod 700 "$dir"

as_user=()
[ "$(id -u)" -ne 0 ] || as_user=(setpriv --reuid="$user" --regid="$user" --clear-groups)
# env -i: nothing of this session (DISPLAY, the D-Bus address, XDG directories) reaches sway.
"${as_user[@]}" env -i PATH=/usr/bin:/bin HOME="$dir" XDG_RUNTIME_DIR="$dir" \
  WLR_BACKENDS=headless WLR_LIBINPUT_NO_DEVICES=1 WLR_RENDERER=pixman WLR_HEADLESS_OUTPUTS=1 \
  sway -c "$dir/sway.conf" >"$dir/sway.log" 2>&1 &
sway=$!

# Ready when its IPC socket lists the output (a tenth of a second here); at most 10 s.
for _ in $(seq 1 100); do
  socket=$(compgen -G "$dir/sway-ipc.*.sock" | head -n 1 || true)
  display=$(compgen -G "$dir/wayland-[0-9]" | head -n 1 || true)
  if [ -n "$socket" ] && [ -n "$display" ] &&
    SWAYSOCK=$socket timeout 2 swaymsg -t get_outputs 2>/dev/null | grep -q HEADLESS-1; then
    export KW_WAYLAND_DISPLAY=$display KW_SWAYSOCK=$socket
    status=0
    "$@" || status=$?
    exit "$status"
  fi
  kill -0 "$sway" 2>/dev/null || break
  sleep 0.1
done
echo "tests/wayland.sh: the headless sway did not start:" >&2
cat "$dir/sway.log" >&2
exit 1
