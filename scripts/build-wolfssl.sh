#!/usr/bin/env bash
# scripts/build-wolfssl.sh — builds Debian's own wolfSSL source package (the installed
# libwolfssl-dev version, with Debian's patches and the configure options of its debian/rules)
# plus the x86-64 assembly (--enable-aesni --enable-intelasm: AES-NI/PCLMUL for AES-GCM, AVX2
# for ChaCha20/Poly1305/SHA-2) into a private prefix. Debian's binary package is built without
# them (AES-128-GCM ~150 MB/s instead of GB/s; docs/tls.md has the figures). wolfSSL checks the
# CPU at run time (cpuid), so the result still runs on x86-64 CPUs without AES-NI or AVX2.
#
# Usage: scripts/build-wolfssl.sh [PREFIX]     (default: build-deps/wolfssl-aesni, git-ignored)
# Then:  cmake -S . -B build -DWISP_WOLFSSL_PREFIX="$PWD/build-deps/wolfssl-aesni"
#
# Idempotent: a prefix whose stamp matches the version and options is left alone. Needs root
# (or sudo) for apt: it adds a deb-src entry for the same Debian mirror when none exists.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${1:-$ROOT/build-deps/wolfssl-aesni}
case $PREFIX in /*) ;; *) PREFIX=$PWD/$PREFIX ;; esac
WORK=${WISP_WOLFSSL_WORK:-$ROOT/build-deps/wolfssl-src}
EXTRA_OPTS=(--enable-aesni --enable-intelasm)
JOBS=${JOBS:-2}

die() { echo "build-wolfssl: $*" >&2; exit 1; }
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

case $(uname -m) in
  x86_64|amd64) ;;
  *) die "--enable-intelasm is x86-64 only (this machine: $(uname -m)); use the system libwolfssl" ;;
esac

VERSION=$(dpkg-query -W -f='${Version}' libwolfssl-dev 2>/dev/null || true)
[ -n "$VERSION" ] || die "libwolfssl-dev is not installed (run scripts/setup.sh first)"
STAMP="wolfssl $VERSION ${EXTRA_OPTS[*]}"
if [ -f "$PREFIX/lib/libwolfssl.a" ] && [ "$(cat "$PREFIX/.wisp-stamp" 2>/dev/null)" = "$STAMP" ]; then
  echo "build-wolfssl: $PREFIX is up to date ($STAMP)"
  exit 0
fi

# Tools to unpack and build the source package (debhelper itself is not needed: we run
# configure ourselves with the options debian/rules passes).
NEED=(dpkg-dev autoconf automake libtool make gcc)
missing=()
for p in "${NEED[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# A deb-src entry for the mirror the machine already uses.
has_src() {
  grep -rqsE '^(Types:.*deb-src|deb-src[[:space:]])' /etc/apt/sources.list /etc/apt/sources.list.d/
}
updated=0
if ! has_src; then
  tmp=$(mktemp)
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb-src/' \
      /etc/apt/sources.list.d/debian.sources > "$tmp"
    dest=/etc/apt/sources.list.d/wisp-deb-src.sources
  elif [ -f /etc/apt/sources.list ] && grep -qE '^deb[[:space:]]' /etc/apt/sources.list; then
    sed -nE 's/^deb([[:space:]])/deb-src\1/p' /etc/apt/sources.list > "$tmp"
    dest=/etc/apt/sources.list.d/wisp-deb-src.list
  else
    rm -f "$tmp"
    die "no Debian apt source found to derive a deb-src entry from"
  fi
  echo "build-wolfssl: adding $dest"
  $SUDO install -m 0644 "$tmp" "$dest"
  rm -f "$tmp"
  $SUDO apt-get update -qq
  updated=1
fi
if [ ${#missing[@]} -gt 0 ]; then
  [ $updated -eq 1 ] || $SUDO apt-get update -qq
  echo "build-wolfssl: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Source: the exact installed version, unpacked with Debian's patches applied.
mkdir -p "$WORK"
SRC="$WORK/wolfssl-$VERSION"
if [ ! -f "$SRC/configure.ac" ]; then
  (cd "$WORK" && apt-get source --download-only "wolfssl=$VERSION") \
    || die "apt-get source wolfssl=$VERSION failed (is the deb-src entry reachable?)"
  rm -rf "$SRC"
  (cd "$WORK" && dpkg-source --no-check -x "wolfssl_${VERSION#*:}.dsc" "$SRC" >/dev/null)
fi

# The configure options of debian/rules (override_dh_auto_configure), read from the package.
mapfile -t DEB_OPTS < <(sed -n '/dh_auto_configure --/,/[^\\]$/p' "$SRC/debian/rules" |
                        grep -oE -- '--[a-z0-9][a-z0-9-]*(=[^[:space:]\\]*)?')
[ ${#DEB_OPTS[@]} -gt 0 ] || die "could not read the configure options from $SRC/debian/rules"
echo "build-wolfssl: Debian options: ${DEB_OPTS[*]}; added: ${EXTRA_OPTS[*]}"

cd "$SRC"
[ -x configure ] || ./autogen.sh >/dev/null 2>&1 || die "autogen.sh failed in $SRC"
# Debian's compiler flags (hardening=+all, as debian/rules exports).
eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
export CFLAGS CPPFLAGS LDFLAGS
# PIC so that the static library links into PIE executables and shared objects alike.
./configure --prefix="$PREFIX" --with-pic "${DEB_OPTS[@]}" "${EXTRA_OPTS[@]}" > "$WORK/configure.log" 2>&1 \
  || { tail -30 "$WORK/configure.log" >&2; die "configure failed (log: $WORK/configure.log)"; }
grep -q '^#define WOLFSSL_AESNI' wolfssl/options.h || die "configure did not enable AES-NI"
make -j"$JOBS" > "$WORK/make.log" 2>&1 \
  || { tail -30 "$WORK/make.log" >&2; die "make failed (log: $WORK/make.log)"; }
rm -rf "$PREFIX"
make install > "$WORK/install.log" 2>&1 || die "make install failed (log: $WORK/install.log)"
# A distro build does not install options.h; Debian's libwolfssl-dev.install ships it by hand.
install -m 0644 wolfssl/options.h "$PREFIX/include/wolfssl/options.h"
echo "$STAMP" > "$PREFIX/.wisp-stamp"
echo "build-wolfssl: installed into $PREFIX"
echo "build-wolfssl: configure CMake with -DWISP_WOLFSSL_PREFIX=$PREFIX"
