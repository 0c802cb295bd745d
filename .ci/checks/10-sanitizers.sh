#!/usr/bin/env bash
# The whole test suite under AddressSanitizer and UndefinedBehaviorSanitizer
# (any report aborts the test), in the clang build the fuzzers share.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
source .ci/sanitized-build.sh
configure_sanitized_build
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$sanitized_build" --output-on-failure -j"$(nproc)"
echo "sanitizers: passed in $(( $(date +%s) - start ))s"
