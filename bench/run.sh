#!/usr/bin/env bash
# bench/run.sh — Wisp against its peers on loopback, and the plot (bench/README.md explains
# every suite and how to read the figures).
#
# Usage: bench/run.sh [--smoke] [SUITE...]
#   SUITE: ws-recv ws-echo ws-conns ws-deflate wss-recv actors (default: all, in that order)
#   BENCH_RUNS=N   runs per row (default 5); the table shows the median, min–max and
#                  median(Wisp) / median(peer)
#   --smoke        tiny sizes, one run: checks that every suite starts and completes (CI);
#                  writes nothing under docs/bench/
#   BENCH_CMAKE_ARGS="..."   extra cmake arguments for Wisp's build, e.g.
#                  -DWISP_WOLFSSL_PREFIX=$PWD/build-deps/wolfssl-aesni (the AES-NI wolfSSL)
#
# Installs what the peers need when it is missing (Debian packages with apt-get, npm packages
# into bench/node_modules with `npm ci`), builds Wisp in Release into build-bench/ and the C
# peers into build-bench/peers/, runs the suites and writes (for the suites run: the other
# suites' rows are kept from the previous results.csv) docs/bench/results.csv,
# docs/bench/results.png, docs/bench/results.md (the table in Markdown) and
# docs/bench/machine.txt.
#
# Exit status: 0 when every suite completed (a row "unavailable" because Wisp does not have the
# feature yet is not a failure), 1 when a suite broke or something could not be installed or
# built, 3 when a client outran the raw-socket ceiling in a full run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ALL=(ws-recv ws-echo ws-conns ws-deflate wss-recv actors)
RUNS=${BENCH_RUNS:-5}
SMOKE=0
SUITES=()
for a in "$@"; do
  case "$a" in
    --smoke) SMOKE=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "bench: unknown option $a (see --help)" >&2; exit 2 ;;
    *)
      if [[ " ${ALL[*]} " != *" $a "* ]]; then
        echo "bench: unknown suite $a (known: ${ALL[*]})" >&2
        exit 2
      fi
      SUITES+=("$a") ;;
  esac
done
[ ${#SUITES[@]} -gt 0 ] || SUITES=("${ALL[@]}")
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_RUNS must be a positive integer, got '$RUNS'" >&2; exit 2; }
[ "$SMOKE" -eq 1 ] && RUNS=1

die() { echo "bench: $*" >&2; exit 1; }

# ---- what the peers need --------------------------------------------------------------------
# Wisp's own build dependencies come from the project's setup script; the benchmark adds the
# peers': libwebsockets and OpenSSL headers (C client, load server), Python websockets on
# Debian's python3, Erlang's escript, the openssl tool (certificates) and matplotlib (the plot).
scripts/setup.sh >/dev/null || die "scripts/setup.sh failed: Wisp's build dependencies are missing"
PKGS=(build-essential pkg-config libwebsockets-dev libssl-dev zlib1g-dev python3 python3-websockets
      erlang-base openssl)
[ "$SMOKE" -eq 1 ] || PKGS+=(python3-matplotlib)
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "bench: installing ${missing[*]}"
  $SUDO apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "cannot install ${missing[*]}"
fi
want=$(sed -n 's/.*"ws": "\([0-9.]*\)".*/\1/p' bench/package.json)
have=$(sed -n 's/^ *"version": "\([0-9.]*\)".*/\1/p' bench/node_modules/ws/package.json 2>/dev/null | head -1 || true)
if [ "$want" != "$have" ]; then
  echo "bench: npm ci in bench/ (ws $want)"
  npm ci --prefix bench --no-audit --no-fund --loglevel=error || die "npm ci in bench/ failed"
fi
/usr/bin/python3 -c 'import websockets' 2>/dev/null || die "python3-websockets is not importable by /usr/bin/python3"
[ "$SMOKE" -eq 1 ] || /usr/bin/python3 -c 'import matplotlib' 2>/dev/null || die "python3-matplotlib is not importable"
command -v escript >/dev/null || die "escript (erlang-base) not found"

# ---- builds --------------------------------------------------------------------------------
BUILD=build-bench
echo "bench: building Wisp (Release) in $BUILD/"
# shellcheck disable=SC2086  # BENCH_CMAKE_ARGS is a list of cmake arguments
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release ${BENCH_CMAKE_ARGS:-} >/dev/null || die "cmake configure failed"
cmake --build "$BUILD" --target wisp -j"$(nproc)" >/dev/null \
  || { cmake --build "$BUILD" --target wisp 2>&1 | tail -30; die "building wisp failed"; }
mkdir -p "$BUILD/peers"
CFLAGS=(-O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -Werror)
gcc "${CFLAGS[@]}" bench/peers/wsload.c -o "$BUILD/peers/wsload" -lssl -lcrypto -lz || die "building wsload failed"
gcc "${CFLAGS[@]}" bench/peers/rawclient.c -o "$BUILD/peers/rawclient" -lssl -lcrypto || die "building rawclient failed"
# shellcheck disable=SC2046
gcc "${CFLAGS[@]}" bench/peers/lws_client.c -o "$BUILD/peers/lws_client" \
  $(pkg-config --cflags --libs libwebsockets) || die "building lws_client failed"

# 10,000 connections need as many descriptors in the client and in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 10100 ]; then
  echo "bench: warning: only $(ulimit -n) file descriptors; ws-conns needs 10,100" >&2
fi

# ---- the suites ----------------------------------------------------------------------------
OUT=$(mktemp -d /tmp/wisp-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
ROWS="$OUT/rows.jsonl"
: > "$ROWS"
broken=()
smoke_flag=()
[ "$SMOKE" -eq 1 ] && smoke_flag=(--smoke)
for s in "${SUITES[@]}"; do
  echo "bench: suite $s (runs: $RUNS)"
  if /usr/bin/python3 "bench/suites/$s.py" --runs "$RUNS" "${smoke_flag[@]}" --out "$ROWS"; then
    echo "bench: suite $s completed"
  else
    echo "bench: suite $s BROKE" >&2
    broken+=("$s")
  fi
done

echo
if [ "$SMOKE" -eq 1 ]; then
  /usr/bin/python3 bench/suites/_report.py "$ROWS" --csv "$OUT/results.csv" --runs 1 || true
else
  mkdir -p docs/bench
  rc=0
  # a run of some suites replaces their rows and keeps the other suites' rows
  keep=()
  [ ${#SUITES[@]} -eq ${#ALL[@]} ] || keep=(--keep)
  /usr/bin/python3 bench/suites/_report.py "$ROWS" --csv docs/bench/results.csv "${keep[@]}" \
    --png docs/bench/results.png --markdown docs/bench/results.md --machine docs/bench/machine.txt \
    --runs "$RUNS" || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || die "the report failed"
fi
n_unavail=$(grep -c '"status": "unavailable"' "$ROWS" || true)
unavail="no row unavailable"
[ "$n_unavail" -eq 0 ] || unavail="$n_unavail rows unavailable: Wisp features not built yet"
name=bench
[ "$SMOKE" -eq 0 ] || name="bench smoke"
echo
if [ ${#broken[@]} -gt 0 ]; then
  echo "$name: BROKEN suites: ${broken[*]} (of ${#SUITES[@]}; $unavail)"
  exit 1
fi
echo "$name: all ${#SUITES[@]} suites completed ($unavail)"
[ "$SMOKE" -eq 1 ] || [ "${rc:-0}" -eq 0 ] || exit 3
