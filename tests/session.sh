#!/usr/bin/env bash
# Runs a command inside a private desktop session on a fresh Debian machine: installs the system
# packages it needs (only when missing), then starts Xvfb, a D-Bus session bus, an unlocked
# gnome-keyring (Secret Service) and a notification daemon (dunst) around it, with fresh XDG
# directories that are removed afterwards. The command's exit code comes back out.
#
#   tests/session.sh COMMAND [ARGS...]
#
# KW_EXTRA_PACKAGES adds Debian packages to install (the startup benchmark's xdotool).
set -euo pipefail

packages=(
  xvfb xauth dbus libglib2.0-bin gnome-keyring libsecret-tools dunst xclip curl age bsdutils keepassxc
  zsh fish direnv man-db desktop-file-utils appstream x11-utils
  mesa-vulkan-drivers libvulkan1 libgl1-mesa-dri libegl1 libegl-mesa0 libgl1
  libxkbcommon-x11-0 libxcursor1 libxi6 libx11-xcb1
)
read -r -a extra <<<"${KW_EXTRA_PACKAGES:-}"
packages+=("${extra[@]}")
source "$(dirname "$0")/packages.sh"
ensure_packages "${packages[@]}"

# A fresh private session every run: an old keyring with another password would make
# gnome-keyring open an unlock prompt and hang every keychain call.
RUN_DIR=$(mktemp -d /tmp/kw-session.XXXXXX)
chmod 700 "$RUN_DIR"
trap 'rm -rf "$RUN_DIR"' EXIT
export XDG_RUNTIME_DIR="$RUN_DIR" XDG_DATA_HOME="$RUN_DIR/data" XDG_CACHE_HOME="$RUN_DIR/cache" \
  XDG_CONFIG_HOME="$RUN_DIR/config" KW_SESSION=1
unset WAYLAND_DISPLAY WGPU_BACKEND DBUS_SESSION_BUS_ADDRESS

xvfb-run -a -s "-screen 0 1280x1024x24 -nolisten tcp" dbus-run-session -- bash -euo pipefail -c '
  printf %s "test-keyring-password" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  dunst -print > "$XDG_RUNTIME_DIR/dunst.log" 2>&1 &
  gdbus wait --session --timeout 10 org.freedesktop.Notifications
  gdbus wait --session --timeout 10 org.freedesktop.secrets
  # gnome-keyring-daemon has crashed here once in many runs (a GLib assertion inside it). D-Bus
  # then starts a locked one whose unlock prompt no one answers, and every keychain call hangs
  # until CI gives up. This watchdog starts it again, unlocked, on the same keyring file, and
  # says so: a test may fail from the crash, but none waits forever. It ends with the command,
  # or when the session bus is gone.
  (
    while sleep 1; do
      owned=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
        --method org.freedesktop.DBus.NameHasOwner org.freedesktop.secrets 2>/dev/null) || exit 0
      if [[ $owned != *true* ]] || pgrep -x gcr-prompter >/dev/null; then
        echo "tests/session.sh: the keyring daemon stopped or asks to be unlocked: starting it again, unlocked" >&2
        pkill -x gcr-prompter || true
        printf %s "test-keyring-password" |
          gnome-keyring-daemon --replace --unlock --components=secrets >/dev/null 2>&1 || true
        sleep 2
      fi
    done
  ) </dev/null >/dev/null &
  watchdog=$!
  status=0
  "$@" || status=$?
  kill "$watchdog" 2>/dev/null || true
  exit "$status"' kw-session "$@"
