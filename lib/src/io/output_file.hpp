// Every file the library writes appears under its name complete or not at
// all: bytes go to a temporary file beside the target (same directory, so
// the same file system), which finish() syncs and renames into place.
// Destroyed without finish(), the temporary file is removed and the target
// is left as it was.
//
// What may be replaced (spec/security.md, "Writing"): a regular file, or a
// symbolic link, which is replaced by the new file (the file it points to
// is never written: a content-addressed cache of blobs stays intact), and
// only when the caller allows replacing. A directory, device, FIFO or
// socket is never replaced. A replaced regular file's permission bits are
// kept; a new file gets 0666 minus the umask.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "owf/error.hpp"

namespace owf::internal {

struct OutputOptions {
  /// Whether an existing target (regular file or symlink) may be replaced.
  /// false: finish() fails, atomically, if the target exists by then.
  bool replace = true;
  /// Called by finish() once the file is complete, synced and closed, with
  /// the temporary file's path, before it is renamed into place: a failure
  /// leaves the target untouched and removes the temporary file (a writer
  /// re-reads and checks what it wrote here).
  std::function<Status(const std::filesystem::path& temporary)> before_rename;
  /// The file will be synced at finish(): start writing it back as it is
  /// written, so that the disk works while the writer hashes and the final
  /// fsync waits for the tail only, not for the whole file.
  bool write_back_early = false;
};

/// Checks `target` against the rules above without creating anything:
/// invalid_argument naming what the target is when it may not be written.
Status check_output_target(const std::filesystem::path& target, const OutputOptions& options);

class OutputFile {
 public:
  static Result<std::unique_ptr<OutputFile>> create(const std::filesystem::path& target,
                                                    const OutputOptions& options = {});
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  /// Starts the file with bytes [0, length) of the regular file `from`,
  /// shared by a reflink where the file system can (then no data is
  /// copied), else copied in the kernel. Only before any write. Returns
  /// whether the bytes were reflinked.
  Result<bool> copy_prefix(const std::filesystem::path& from, std::uint64_t length);

  Status write(std::span<const std::byte> data);
  Status write_zeros(std::uint64_t count);
  /// Zero padding up to the next multiple of `alignment` (a power of two).
  Status pad_to(std::uint64_t alignment);
  /// Replaces bytes already written, [offset, offset + data.size()) below
  /// position(): a checksum known only after the data it covers.
  Status overwrite(std::uint64_t offset, std::span<const std::byte> data);
  /// Bytes written so far (including buffered ones).
  std::uint64_t position() const { return position_; }
  /// Hands buffered bytes to the file.
  Status flush();
  /// Bytes handed to the file, [0, this): what read_at() can read back.
  std::uint64_t flushed_position() const { return fd_position_; }
  /// Reads back bytes below flushed_position(); safe on other threads
  /// while this one writes (and only until finish()).
  Status read_at(std::uint64_t offset, std::span<std::byte> out) const;
  /// Flushes, optionally fsyncs file and directory, renames into place.
  Status finish(bool sync);
  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& temporary() const { return temp_; }

 private:
  OutputFile(std::filesystem::path target, std::filesystem::path temp, int fd, OutputOptions options);
  Status write_all(std::span<const std::byte> data);
  Status fail(Error error);

  std::filesystem::path target_;
  std::filesystem::path temp_;
  int fd_ = -1;
  OutputOptions options_;
  bool finished_ = false;
  bool failed_ = false;
  std::vector<std::byte> buffer_;
  std::uint64_t position_ = 0;
  std::uint64_t fd_position_ = 0;      // bytes handed to write(), where the next one lands
  std::uint64_t written_back_to_ = 0;  // writeback started for [0, this)
};

}  // namespace owf::internal
