// A one-line progress bar on stderr for long operations.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

namespace owf::tools {

/// True when stderr is a terminal.
bool stderr_is_terminal();

/// Redrawn at most every 100 ms; prints nothing unless enabled (tools
/// enable it only when stderr is a terminal, so piped output stays clean).
class ProgressBar {
 public:
  ProgressBar(std::string label, bool enabled);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  /// Thread-safe.
  void update(std::uint64_t done, std::uint64_t total);
  bool enabled() const { return enabled_; }

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::mutex mutex_;
  std::int64_t last_draw_ns_ = 0;
};

}  // namespace owf::tools
