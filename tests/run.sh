#!/usr/bin/env bash
# Runs every Keywarden test on a fresh Debian machine: installs the system packages the tests need
# (only when missing), then runs `cargo test` inside a private desktop session: Xvfb, a D-Bus
# session bus, an unlocked gnome-keyring (Secret Service) and a notification daemon (dunst).
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  xvfb xauth dbus libglib2.0-bin gnome-keyring libsecret-tools dunst xclip
  mesa-vulkan-drivers libvulkan1 libgl1-mesa-dri libegl1 libegl-mesa0 libgl1
  libxkbcommon-x11-0 libxcursor1 libxi6 libx11-xcb1
)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); else
    echo "tests/run.sh: the tests need these Debian packages: ${missing[*]}" >&2
    echo "tests/run.sh: install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "tests/run.sh: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A fresh private session every run: an old keyring with another password would make
# gnome-keyring open an unlock prompt and hang every keychain call.
RUN_DIR=$(mktemp -d /tmp/kw-test.XXXXXX)
chmod 700 "$RUN_DIR"
trap 'rm -rf "$RUN_DIR"' EXIT
export XDG_RUNTIME_DIR="$RUN_DIR" XDG_DATA_HOME="$RUN_DIR/data" XDG_CACHE_HOME="$RUN_DIR/cache" \
  XDG_CONFIG_HOME="$RUN_DIR/config"
unset WAYLAND_DISPLAY WGPU_BACKEND DBUS_SESSION_BUS_ADDRESS

xvfb-run -a -s "-screen 0 1280x1024x24 -nolisten tcp" dbus-run-session -- bash -euo pipefail -c '
  printf %s "test-keyring-password" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  dunst -print > "$XDG_RUNTIME_DIR/dunst.log" 2>&1 &
  gdbus wait --session --timeout 10 org.freedesktop.Notifications
  gdbus wait --session --timeout 10 org.freedesktop.secrets
  cargo test "$@"' kw-test "$@"
