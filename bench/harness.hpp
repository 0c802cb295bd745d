// A small benchmark harness: medians of repeated runs, and the peak memory
// of one operation measured in a fresh child process.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
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
