#!/usr/bin/env bash
# Installs everything Cordon needs on a Debian/Ubuntu machine: system packages
# (when run as root; otherwise prints the exact apt line and stops), a local
# virtual environment in .venv, and the pinned Python packages from
# requirements/lock.txt. Safe to run again: each step is skipped when done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

APT_PACKAGES=(
    python3 python3-venv
    libportaudio2            # sounddevice loads the system PortAudio
    libasound2-plugins       # ALSA pulse plugin for the paced audio tests
    pulseaudio               # null sink for real-time playback
    xvfb xauth xclip xdotool # real X server for window/clipboard tests
    x11-utils imagemagick    # another window to take focus; screenshots from outside
    strace                   # the no-files-written session test
    libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1
    libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-shape0
    libegl1 libgl1 libfontconfig1 libdbus-1-3 fonts-dejavu-core
    dbus-daemon gnome-keyring # a real Secret Service for the device key
    chromium chromium-driver  # a real browser for the SSO sign-in test
    # Installers (installer/): the .deb and its signed apt repository, tried in a
    # clean Debian root; the MSI built with wixl and Authenticode-signed.
    dpkg-dev apt-utils gnupg debootstrap msitools wixl osslsigncode
    desktop-file-utils lintian  # the .deb's desktop entry and Debian policy checks
    postgresql                  # the server tests' second run, on a private PostgreSQL
)
# The SSO tests and `scripts/demo.sh --sso` run a real OpenID Connect provider (npm
# oidc-provider, from devtools/oidc/package-lock.json) on Node.js >= 20.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    APT_PACKAGES+=(nodejs npm)
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        echo "cordon bootstrap: installing system packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "cordon bootstrap: these system packages are missing. Run:" >&2
        echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
fi

PYTHON="${CORDON_PYTHON:-python3}"
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "cordon bootstrap: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.cordon-lock.sha256"
want="$(cat "$ROOT/requirements/lock.txt" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "cordon bootstrap: installing pinned Python packages"
    "$VENV/bin/python" -m pip install -q --upgrade "pip==25.3"
    "$VENV/bin/python" -m pip install -q -r "$ROOT/requirements/lock.txt"
    "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$ROOT"
    echo "$want" > "$stamp"
fi

OIDC="$ROOT/devtools/oidc"
oidc_stamp="$OIDC/node_modules/.cordon-lock.sha256"
oidc_want="$(sha256sum "$OIDC/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$oidc_stamp" || "$(cat "$oidc_stamp")" != "$oidc_want" ]]; then
    echo "cordon bootstrap: installing the test identity provider (npm ci)"
    (cd "$OIDC" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$oidc_want" > "$oidc_stamp"
fi
