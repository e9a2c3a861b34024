#!/usr/bin/env bash
# bench/tls_cipher.sh — cipher speed for wss://: OpenSSL's figures as the reference, then
# bench/tls_cipher.c (raw wolfCrypt AEADs, bulk data through net/tls.c, handshake, CA bundle,
# memory) against Debian's libwolfssl and, when scripts/build-wolfssl.sh has run, against the
# AES-NI build. Figures and the decision they led to: docs/tls.md.
#
# Usage: bench/tls_cipher.sh [MiB per bulk run, default 256] [AES-NI prefix]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MIB=${1:-256}
PREFIX=${2:-$ROOT/build-deps/wolfssl-aesni}
OUT=$(mktemp -d /tmp/wisp-tls-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

echo "== CPU"
grep -m1 'model name' /proc/cpuinfo || true
for f in aes pclmulqdq avx2; do
  if grep -qw "$f" /proc/cpuinfo; then echo "  $f: yes"; else echo "  $f: no"; fi
done

echo "== OpenSSL $(openssl version | cut -d' ' -f2) (openssl speed -evp, 16 KiB blocks, MB/s)"
for c in aes-128-gcm aes-256-gcm chacha20-poly1305; do
  openssl speed -evp "$c" -bytes 16384 -seconds 2 2>/dev/null |
    awk -v c="$c" 'END { v = $NF; sub(/k$/, "", v); printf "  %-20s %8.0f MB/s\n", c, v * 1000 / 1e6 }'
done

bash "$ROOT/tests/certs/gen.sh" "$OUT/certs"
SRCS=("$ROOT/bench/tls_cipher.c" "$ROOT/net/tls.c" "$ROOT/net/quote.c" "$ROOT/core/buf.c")
CFLAGS=(-O2 -std=c11 -D_GNU_SOURCE -I"$ROOT")

echo "== Debian's libwolfssl ($(dpkg-query -W -f='${Version}' libwolfssl35 2>/dev/null || echo '?'))"
gcc "${CFLAGS[@]}" "${SRCS[@]}" -o "$OUT/tls_cipher_system" -lwolfssl -lpthread -lm
"$OUT/tls_cipher_system" "$OUT/certs" "$MIB"

if [ -f "$PREFIX/lib/libwolfssl.a" ]; then
  echo "== AES-NI build ($PREFIX)"
  gcc "${CFLAGS[@]}" -I"$PREFIX/include" "${SRCS[@]}" -o "$OUT/tls_cipher_aesni" \
    "$PREFIX/lib/libwolfssl.a" -lpthread -lm
  "$OUT/tls_cipher_aesni" "$OUT/certs" "$MIB"
else
  echo "== AES-NI build: not found in $PREFIX (run scripts/build-wolfssl.sh)"
fi
