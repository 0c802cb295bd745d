#include "written_tensor_hasher.hpp"

#include <algorithm>
#include <memory>

#include "sha256.hpp"

namespace owf::internal {

namespace {

// Read back in pieces that stay in the CPU's cache between the copy out of
// the page cache and the hash.
constexpr std::uint64_t kReadBackPiece = 1u << 20;

}  // namespace

WrittenTensorHasher::WrittenTensorHasher(ReadAt read_at, unsigned threads)
    : read_at_(std::move(read_at)), active_(std::max(1u, threads)) {
  threads_.reserve(active_.size());
  for (std::size_t t = 0; t < active_.size(); ++t) threads_.emplace_back([this, t] { work(t); });
}

WrittenTensorHasher::~WrittenTensorHasher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& t : threads_) t.join();
}

void WrittenTensorHasher::start(std::size_t tag, std::uint64_t offset, std::uint64_t length) {
  {
    std::lock_guard lock(mutex_);
    queued_.push_back({tag, offset, offset + length, offset});
  }
  changed_.notify_all();
}

void WrittenTensorHasher::written_up_to(std::uint64_t end) {
  {
    std::lock_guard lock(mutex_);
    if (end <= written_) return;
    written_ = end;
  }
  changed_.notify_all();
}

std::uint64_t WrittenTensorHasher::unhashed_locked() const {
  const auto unhashed = [&](const Job& j) {
    const std::uint64_t available = std::min(j.end, written_);
    return available > j.hashed ? available - j.hashed : 0;
  };
  std::uint64_t total = 0;
  for (const Job& j : queued_) total += unhashed(j);
  for (const auto& j : active_)
    if (j) total += unhashed(*j);
  return total;
}

void WrittenTensorHasher::wait_for_lag(std::uint64_t bytes) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return unhashed_locked() <= bytes; });
}

void WrittenTensorHasher::wait_all() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] {
    return queued_.empty() && std::none_of(active_.begin(), active_.end(), [](const auto& j) { return j.has_value(); });
  });
}

std::vector<WrittenTensorHasher::Finished> WrittenTensorHasher::take_finished() {
  std::lock_guard lock(mutex_);
  return std::exchange(finished_, {});
}

void WrittenTensorHasher::work(std::size_t thread) {
  const auto buffer = std::make_unique_for_overwrite<std::byte[]>(kReadBackPiece);
  Sha256 hasher;
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !queued_.empty(); });
    if (stopping_) return;
    active_[thread] = queued_.front();
    queued_.pop_front();
    Job& job = *active_[thread];
    std::optional<Error> error;
    while (job.hashed < job.end) {
      changed_.wait(lock, [&] { return stopping_ || written_ > job.hashed; });
      if (stopping_) return;
      const std::uint64_t at = job.hashed;
      const std::uint64_t available = std::min(job.end, written_);
      const auto piece = std::span(buffer.get(), static_cast<std::size_t>(std::min(kReadBackPiece, available - at)));
      lock.unlock();
      auto read = read_at_(at, piece);
      if (read.ok()) hasher.update(piece);
      lock.lock();
      if (!read.ok()) {
        error = read.error();
        break;
      }
      job.hashed = at + piece.size();
      changed_.notify_all();  // the lag shrank
    }
    finished_.push_back({job.tag, hasher.finish(), std::move(error)});
    active_[thread].reset();
    changed_.notify_all();
  }
}

}  // namespace owf::internal
