// Hashing the tensors a writer has written, on other threads, from the file
// itself, while the writer's thread goes on writing.
//
// Why from the file: a caller's buffer is only lent for the call that hands
// it over, but one tensor's SHA-256 is a single sequential stream (spec/
// format.md §4.2) that takes longer than writing its bytes. Read back from
// the page cache, tensor k+1 is hashed while tensor k still is, and the
// writer never waits for a digest before it writes the next tensor. The
// digest is then of the bytes in the file, not of a buffer they came from.
//
// The writer writes the file front to back: it reports how far the file is
// written, and a tensor's job hashes whatever of its range lies below that.
// How far hashing may fall behind is bounded (wait_for_lag), so that the
// unhashed bytes stay in the page cache.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "owf/error.hpp"
#include "owf/metadata.hpp"

namespace owf::internal {

class WrittenTensorHasher {
 public:
  /// Reads bytes the writer has written; called from the hashing threads,
  /// concurrently with the writer's writes (pread on the written file).
  using ReadAt = std::function<Status(std::uint64_t offset, std::span<std::byte> out)>;

  struct Finished {
    std::size_t tag;  // as given to start()
    Sha256Digest digest;
    std::optional<Error> error;  // a failed read, naming the file
  };

  WrittenTensorHasher(ReadAt read_at, unsigned threads);
  /// Stops the threads; unfinished jobs are abandoned.
  ~WrittenTensorHasher();
  WrittenTensorHasher(const WrittenTensorHasher&) = delete;
  WrittenTensorHasher& operator=(const WrittenTensorHasher&) = delete;

  /// Hashes the `length` bytes at `offset` of the file as they are written.
  /// Jobs are taken in the order started.
  void start(std::size_t tag, std::uint64_t offset, std::uint64_t length);
  /// The file holds every byte below `end` (monotonic).
  void written_up_to(std::uint64_t end);
  /// Blocks while more than `bytes` of the written bytes of started jobs
  /// are not yet hashed.
  void wait_for_lag(std::uint64_t bytes);
  /// Blocks until every started job has finished (its bytes must have been
  /// written, or this waits for them).
  void wait_all();
  /// The jobs finished since the last call, in no particular order.
  std::vector<Finished> take_finished();

 private:
  struct Job {
    std::size_t tag;
    std::uint64_t begin, end;
    std::uint64_t hashed;  // [begin, hashed) is hashed
  };

  void work(std::size_t thread);
  std::uint64_t unhashed_locked() const;

  ReadAt read_at_;
  std::mutex mutex_;
  std::condition_variable changed_;         // any of the state below
  std::deque<Job> queued_;                  // started, not yet taken by a thread
  std::vector<std::optional<Job>> active_;  // per thread: the job it hashes
  std::uint64_t written_ = 0;
  std::vector<Finished> finished_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace owf::internal
