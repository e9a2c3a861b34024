#!/usr/bin/env bash
# Sets up, builds Wisp in Release and runs the demos (need nothing from the internet): one
# actor showing coroutines, channels, select and timers, then an app of two services.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
wolfssl=()
[ -f build-deps/wolfssl-aesni/lib/libwolfssl.a ] && wolfssl=(-DWISP_WOLFSSL_PREFIX="$PWD/build-deps/wolfssl-aesni")
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${wolfssl[@]}" >/dev/null
cmake --build build -j"$(nproc)" --target wisp >/dev/null
echo "== one actor: coroutines, channels, select, timers (examples/demo.lua)"
build/wisp exec examples/demo.lua
echo
echo "== an app: two supervised services exchanging messages (examples/pingpong)"
exec build/wisp --log-format text run examples/pingpong -x app:demo
