// A small benchmark harness: medians of repeated runs, and the peak memory
// of one operation measured in a fresh child process.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace owf::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Runs `measure` (which returns the seconds of the part it timed) once to
/// warm up, then `reps` times, and returns the median.
template <class Fn>
double median_seconds(int reps, Fn&& measure) {
  (void)measure();
  std::vector<double> times;
  times.reserve(static_cast<std::size_t>(reps));
  for (int i = 0; i < reps; ++i) times.push_back(measure());
  std::sort(times.begin(), times.end());
  const std::size_t n = times.size();
  return n % 2 == 1 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
}

/// Runs each of `measures` in turn, round after round: one warm-up round,
/// then `reps`; returns each one's median. An operation and its baseline
/// then see the same machine, whose disk and CPU speeds drift over seconds
/// on shared hosts, instead of one measured after the other.
inline std::vector<double> alternating_medians(int reps, const std::vector<std::function<double()>>& measures) {
  for (const auto& m : measures) (void)m();
  std::vector<std::vector<double>> times(measures.size());
  for (int i = 0; i < reps; ++i)
    for (std::size_t k = 0; k < measures.size(); ++k) times[k].push_back(measures[k]());
  std::vector<double> medians;
  for (auto& t : times) {
    std::sort(t.begin(), t.end());
    const std::size_t n = t.size();
    medians.push_back(n % 2 == 1 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2);
  }
  return medians;
}

/// Keeps the compiler from discarding a computed value.
inline void keep(std::uint64_t value) {
  static volatile std::uint64_t sink = 0;
  sink = sink + value;
}

/// Memory of one operation run in a child process, in bytes.
struct MemoryUse {
  bool ok = false;
  std::string error;
  std::uint64_t before_anon = 0;  // anonymous resident memory before the operation
  std::uint64_t peak_anon = 0;    // sampled peak of anonymous resident memory
  std::uint64_t peak_rss = 0;     // VmHWM: includes mapped file pages touched
};

/// Anonymous resident bytes of this process (RSS minus file-backed pages).
std::uint64_t anon_resident_bytes();
/// The peak resident set of this process since it started (VmHWM).
std::uint64_t peak_resident_bytes();
/// The processor's model name from /proc/cpuinfo ("unknown" if none).
std::string cpu_model();

/// Samples anon_resident_bytes() every millisecond while alive.
class PeakSampler {
 public:
  PeakSampler();
  ~PeakSampler();
  PeakSampler(const PeakSampler&) = delete;
  PeakSampler& operator=(const PeakSampler&) = delete;
  std::uint64_t peak() const;

 private:
  struct State;
  State* state_;
};

/// Runs `argv` (this program in a child mode) and parses the line
/// "before_anon peak_anon peak_rss" it prints.
MemoryUse run_child(const std::vector<std::string>& argv);

}  // namespace owf::bench
