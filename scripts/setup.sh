#!/usr/bin/env bash
# Installs every Debian package that building Wisp and running its tests needs.
# Idempotent: does nothing when all packages are already present.
set -euo pipefail
PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  liblua5.4-dev liburing-dev libwolfssl-dev zlib1g-dev libjansson-dev libfyaml-dev
  python3 python3-websockets nginx-light
)
# Node.js and npm (peers of the WebSocket tests): Debian's packages unless the machine already
# has a node/npm of its own (a newer install conflicts with Debian's npm package).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
