#!/usr/bin/env bash
# Builds the benchmarks (Release, in build-bench/) and prints the table of
# OWF against the machine's limits. Needs about 6 GiB free in the bench
# directory and a few minutes.
#
#   scripts/bench.sh [--dir DIR] [--reps N] [--scale K] [--keep]
#
# Arguments go to owf_bench (default: --dir /tmp/owf-bench --reps 5).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-bench"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DOWF_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target owf_bench >/dev/null
exec "$build/bench/owf_bench" "$@"
