#!/usr/bin/env bash
# Installs every Debian package that building Wisp and running its tests needs, and the npm
# packages of the WebSocket test peer (tests/ws/node, exact versions from its package-lock.json).
# Idempotent: does nothing when everything is already present.
set -euo pipefail
PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  liblua5.4-dev liburing-dev libwolfssl-dev zlib1g-dev libjansson-dev libfyaml-dev
  python3 python3-websockets python3-prometheus-client nginx-light tinyproxy openssl ca-certificates
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

# The Node WebSocket test peer: installed from the lock file when missing or out of date.
node_dir=tests/ws/node
cd "$(dirname "$0")/.."
want=$(sed -n 's/.*"ws": "\([0-9.]*\)".*/\1/p' "$node_dir/package.json")
have=$(sed -n 's/^ *"version": "\([0-9.]*\)".*/\1/p' "$node_dir/node_modules/ws/package.json" 2>/dev/null | head -1 || true)
if [ "$want" != "$have" ]; then
  echo "setup: npm ci in $node_dir (ws $want)"
  npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error
fi

# wolfSSL with hardware AES (Debian's package is built without it; docs/tls.md). Built once
# into build-deps/ from Debian's own source package; when that is impossible (no deb-src mirror,
# not x86-64) the build falls back to the system library with a warning.
if [ "${WISP_SYSTEM_WOLFSSL:-0}" != 1 ]; then
  if ! scripts/build-wolfssl.sh >/tmp/wisp-build-wolfssl.log 2>&1; then
    echo "setup: WARNING: the AES-NI wolfSSL build failed (see /tmp/wisp-build-wolfssl.log); using Debian's libwolfssl" >&2
    tail -5 /tmp/wisp-build-wolfssl.log >&2 || true
  fi
fi
