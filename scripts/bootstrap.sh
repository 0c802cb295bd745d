#!/usr/bin/env bash
# Fresh machine to working demo: installs dependencies, builds everything
# into build/, then writes, verifies and prints the bundled example model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOWF_BUILD_BENCH=ON  # benchmarks built, so they cannot rot
cmake --build build -j"$(nproc)"
bash scripts/demo.sh build
