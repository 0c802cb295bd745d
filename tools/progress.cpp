#include "progress.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "render.hpp"

namespace owf::tools {

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, bool enabled) : label_(printable(label)), enabled_(enabled) {}

ProgressBar::~ProgressBar() {
  if (drawn_) fmt::print(stderr, "\r\033[K");
}

void ProgressBar::update(std::uint64_t done, std::uint64_t total) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  const auto now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  if (drawn_ && done < total && now - last_draw_ns_ < 100'000'000) return;
  last_draw_ns_ = now;
  constexpr int kWidth = 30;
  const double f = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  const int filled = static_cast<int>(f * kWidth);
  fmt::print(stderr, "\r{} [{}{}] {:3.0f}% {}/{}\033[K", label_, std::string(filled, '#'),
             std::string(kWidth - filled, ' '), f * 100.0, human_bytes(done), human_bytes(total));
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace owf::tools
