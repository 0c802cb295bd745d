#!/usr/bin/env bash
# Sourced by checks/10-sanitizers.sh and checks/30-fuzz.sh: one clang build under
# AddressSanitizer and UndefinedBehaviorSanitizer holds both the test suite
# and the libFuzzer targets, so the library is compiled with sanitizers once.
# Tools, examples and benchmarks add build time, not coverage of
# untrusted-input code.
sanitized_build=${OWF_SANITIZED_BUILD:-build-ci-asan}
configure_sanitized_build() {
  cmake -S . -B "$sanitized_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DOWF_SANITIZE=ON -DOWF_BUILD_FUZZ=ON \
    -DOWF_BUILD_TESTS=ON -DOWF_BUILD_TOOLS=OFF -DOWF_BUILD_EXAMPLES=OFF -DOWF_BUILD_BENCH=OFF >/dev/null
  cmake --build "$sanitized_build" -j"$(nproc)"
}
