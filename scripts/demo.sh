#!/usr/bin/env bash
# Sets up, builds Wisp in Release and runs the demo (needs nothing from the internet).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target wisp >/dev/null
exec build/wisp exec examples/demo.lua
