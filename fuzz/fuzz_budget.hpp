// Peak memory proportional to the input, for every target: a file that makes
// a reader allocate far more than its own size fails the run even when the
// allocation succeeds (the process limit, -rss_limit_mb, only backs this
// up). Allocations are counted by tests/unit/alloc_tracking.cpp, linked into
// every fuzz binary.
#pragma once

#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "alloc_tracking.hpp"

namespace owf::fuzz {

/// Peak bytes a run may allocate for an input of n bytes:
/// kBudgetBase + kBudgetPerByte x n.
inline constexpr std::uint64_t kBudgetBase = 32ull << 20;
inline constexpr std::uint64_t kBudgetPerByte = 256;

/// Runs `run` and aborts when it allocated more than the budget of an input
/// of `input_bytes` bytes at its peak.
template <class Run>
void within_budget(std::size_t input_bytes, Run&& run) {
  const std::uint64_t budget = kBudgetBase + kBudgetPerByte * input_bytes;
  const test::AllocationPeak peak;
  run();
  if (peak.peak_growth() > budget) {
    std::fprintf(stderr, "peak allocation of %zu bytes for a %zu-byte input exceeds its budget of %" PRIu64 "\n",
                 peak.peak_growth(), input_bytes, budget);
    std::abort();
  }
}

}  // namespace owf::fuzz
