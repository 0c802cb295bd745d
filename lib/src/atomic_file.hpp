// Writing a file so that it appears under its name complete or not at all:
// bytes go to a temporary file beside the target (same file system), which
// finish() syncs and renames into place. Destroyed without finish(), the
// temporary file is removed and an existing target is left untouched.
// Writes are buffered so that many small pieces cost few system calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "owf/error.hpp"

namespace owf::internal {

class AtomicFile {
 public:
  static Result<std::unique_ptr<AtomicFile>> create(const std::filesystem::path& target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status write(std::span<const std::byte> data);
  Status write_zeros(std::uint64_t count);
  /// Zero padding up to the next multiple of `alignment` (a power of two).
  Status pad_to(std::uint64_t alignment);
  /// Bytes written so far (including buffered ones).
  std::uint64_t position() const { return position_; }
  /// Flushes, optionally fsyncs file and directory, renames into place.
  Status finish(bool sync);
  const std::filesystem::path& target() const { return target_; }

 private:
  AtomicFile(std::filesystem::path target, std::filesystem::path temp, int fd);
  Status flush();
  Status write_all(std::span<const std::byte> data);

  std::filesystem::path target_;
  std::filesystem::path temp_;
  int fd_ = -1;
  bool finished_ = false;
  bool failed_ = false;
  std::vector<std::byte> buffer_;
  std::uint64_t position_ = 0;
};

}  // namespace owf::internal
