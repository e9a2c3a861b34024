#!/usr/bin/env bash
# Sets up, builds and runs every test: C unit tests (ctest), Lua tests run by wisp itself, and
# the WebSocket client's tests against real peers (tests/run_ws.py).
# Usage: scripts/test.sh [release|asan|tsan]   (default release). Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-release}
scripts/setup.sh || exit 1
case "$mode" in
  release) dir=build;      flags=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan)    dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DWISP_SANITIZE=ON) ;;
  tsan)    dir=build-tsan; flags=(-DCMAKE_BUILD_TYPE=Debug -DWISP_TSAN=ON) ;;
  *) echo "usage: $0 [release|asan|tsan]" >&2; exit 2 ;;
esac
# the AES-NI wolfSSL when setup could build it (docs/tls.md), else Debian's
[ -f build-deps/wolfssl-aesni/lib/libwolfssl.a ] && flags+=(-DWISP_WOLFSSL_PREFIX="$PWD/build-deps/wolfssl-aesni")
cmake -S . -B "$dir" "${flags[@]}" >/dev/null || exit 1
cmake --build "$dir" -j"$(nproc)" >/dev/null || { cmake --build "$dir" 2>&1 | tail -40; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

unit_log=$(mktemp)
if [ "$mode" = tsan ]; then
  # TSan: the threaded pieces (queues, scheduler, net loop) are what it can judge
  ctest --test-dir "$dir" --output-on-failure -R 'mpsc|runq|sched|netloop|mailbox' 2>&1 | tee "$unit_log"
else
  ctest --test-dir "$dir" --output-on-failure -j2 2>&1 | tee "$unit_log"
fi
unit_total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$unit_log" | tail -1)
unit_failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$unit_log" | tail -1)
rm -f "$unit_log"
unit_total=${unit_total:-0}; unit_failed=${unit_failed:-1}
unit_passed=$((unit_total - unit_failed))

lua_passed=0; lua_failed=0
if [ "$mode" != tsan ]; then
  lua_log=$(mktemp)
  WISP_BIN="$dir/wisp" python3 tests/run_lua.py 2>&1 | tee "$lua_log"
  lua_passed=$(sed -n 's/^lua: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$lua_log")
  lua_failed=$(sed -n 's/^lua: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$lua_log")
  rm -f "$lua_log"
  lua_passed=${lua_passed:-0}; lua_failed=${lua_failed:-1}

  apps_log=$(mktemp)
  WISP_BIN="$dir/wisp" python3 tests/run_apps.py 2>&1 | tee "$apps_log"
  apps_passed=$(sed -n 's/^apps: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$apps_log")
  apps_failed=$(sed -n 's/^apps: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$apps_log")
  rm -f "$apps_log"
  lua_passed=$((lua_passed + ${apps_passed:-0})); lua_failed=$((lua_failed + ${apps_failed:-1}))

  # docs/getting-started.md and docs/api/*.md examples, types/*.lua against the runtime
  docs_log=$(mktemp)
  WISP_BIN="$dir/wisp" python3 tests/docs/run_docs.py 2>&1 | tee "$docs_log"
  docs_passed=$(sed -n 's/^docs: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$docs_log")
  docs_failed=$(sed -n 's/^docs: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$docs_log")
  rm -f "$docs_log"
  lua_passed=$((lua_passed + ${docs_passed:-0})); lua_failed=$((lua_failed + ${docs_failed:-1}))
fi

# WebSocket client against real peers on loopback; run_ws.py runs the suite on both I/O
# backends (WISP_IO_BACKEND unset, i.e. io_uring where available, and =epoll) and counts both.
ws_passed=0; ws_failed=0
if [ "$mode" != tsan ]; then
  ws_log=$(mktemp)
  WISP_BIN="$dir/wisp" python3 tests/run_ws.py 2>&1 | tee "$ws_log"
  ws_passed=$(sed -n 's/^ws: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$ws_log")
  ws_failed=$(sed -n 's/^ws: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$ws_log")
  rm -f "$ws_log"
  ws_passed=${ws_passed:-0}; ws_failed=${ws_failed:-1}
fi

passed=$((unit_passed + lua_passed + ws_passed)); failed=$((unit_failed + lua_failed + ws_failed))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
