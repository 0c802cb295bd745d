#!/usr/bin/env bash
# The whole test suite under AddressSanitizer and UndefinedBehaviorSanitizer
# (any report aborts the test). Library and tests only: tools, examples and
# benchmarks add build time, not coverage of untrusted-input code.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
cmake -S . -B build-ci-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOWF_SANITIZE=ON \
  -DOWF_BUILD_TOOLS=OFF -DOWF_BUILD_EXAMPLES=OFF -DOWF_BUILD_BENCH=OFF >/dev/null
cmake --build build-ci-asan -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-ci-asan --output-on-failure -j"$(nproc)"
echo "sanitizers: passed in $(( $(date +%s) - start ))s"
