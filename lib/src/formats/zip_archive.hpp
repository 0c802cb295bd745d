// Reading untrusted zip archives (.npz, PyTorch zip checkpoints) through
// libzip, with the checks a weights reader needs before it trusts a size.
//
// What ZipArchive::open guarantees once it succeeds:
//   - the archive parsed with libzip's consistency checks (ZIP_CHECKCONS:
//     every local header agrees with its central-directory entry);
//   - entry count <= ZipLimits::max_entries, every name is non-empty UTF-8 of
//     at most max_name_bytes bytes, names are unique;
//   - no name is a path trick: no leading '/', no drive letter, no '\\',
//     no NUL or other control character, no empty, "." or ".." segment;
//   - every entry is stored or deflated and not encrypted; a stored entry's
//     compressed size equals its size; a deflated entry does not declare more
//     than deflate's maximum ratio (1032:1) allows, so a small entry cannot
//     claim a huge size;
//   - every declared size <= max_entry_bytes and their sum <= max_total_bytes.
// What reading guarantees:
//   - a read never writes more than the caller's buffer and never allocates
//     from a size read out of the archive (only bounded scratch space);
//   - a read that reaches the end of an entry checks that the content has
//     exactly the declared size (no more, no fewer bytes) and, when the whole
//     entry was decoded, its CRC-32.
// Not checked: entries whose data overlap one another (libzip does not
// expose local-header offsets); every read is still bounded by the declared
// sizes above.
//
// A ZipArchive is safe to read from several threads at once (reads are
// serialized internally).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "owf/error.hpp"

namespace owf::internal {

struct ZipLimits {
  std::uint64_t max_entries = 1'000'000;
  std::uint64_t max_name_bytes = 4096;
  std::uint64_t max_entry_bytes = 1ull << 40;  // declared (uncompressed) size of one entry
  std::uint64_t max_total_bytes = 1ull << 44;  // sum of declared sizes
};

struct ZipEntry {
  std::string name;  // UTF-8
  std::uint64_t size = 0;             // declared uncompressed size
  std::uint64_t compressed_size = 0;  // bytes in the archive
  bool stored = true;                 // false: deflated
  std::uint32_t crc32 = 0;
};

class ZipArchive {
 public:
  /// Opens and checks the archive (see the guarantees above). Errors are
  /// foreign_format_invalid (bad archive, path tricks, size inconsistencies),
  /// foreign_format_unsupported (encryption, other compression methods) or
  /// limit_exceeded.
  static Result<std::unique_ptr<ZipArchive>> open(const std::filesystem::path& path, const ZipLimits& limits = {});
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  /// Entries in central-directory (archive) order.
  const std::vector<ZipEntry>& entries() const { return entries_; }
  std::optional<std::size_t> find(std::string_view name) const;

  /// The whole entry; out.size() must equal its size. Checks size and CRC-32.
  Status read(std::size_t index, std::span<std::byte> out) const;
  /// Bytes [offset, offset + out.size()) of an entry. Stored entries are read
  /// directly; deflated ones are decoded from their start (the skipped bytes
  /// go through a small scratch buffer). A range that ends at the entry's end
  /// checks the exact size, and for deflated entries the CRC-32.
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const;

  const std::filesystem::path& path() const { return path_; }

 private:
  ZipArchive() = default;
  std::filesystem::path path_;
  void* zip_ = nullptr;  // zip_t*
  std::vector<ZipEntry> entries_;
  mutable std::mutex mutex_;
};

/// Why `name` is not a safe archive member name, or nullopt when it is.
std::optional<std::string> zip_name_problem(std::string_view name);

}  // namespace owf::internal
