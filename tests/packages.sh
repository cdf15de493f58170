# Sourced by the test scripts: `ensure_packages PACKAGE...` installs the Debian packages that are
# missing (as root, or through sudo without a password), and says what to install otherwise.
ensure_packages() {
  local missing=() package
  for package in "$@"; do
    # Installed, not only known (a removed package keeps its config files and a status).
    [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" = "install ok installed" ] ||
      missing+=("$package")
  done
  ((${#missing[@]})) || return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then sudo=(sudo -n); else
      echo "$0: this needs these Debian packages: ${missing[*]}" >&2
      echo "$0: install them with: sudo apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "$0: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
