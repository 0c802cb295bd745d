// Reading untrusted zip archives (.npz, PyTorch zip checkpoints) from a
// ByteSource, with the checks a weights reader needs before it trusts a
// size. The archive is parsed here (zip_format.hpp names the records) and
// deflated entries are decoded with zlib; every byte comes through
// ByteSource::read_at, so an archive on any kind of source (a local file, a
// buffer, a remote file) is read the same way.
//
// Why not libzip: refusing entries whose bytes overlap (the trick behind
// the "better zip bomb", where many entries decode one shared stream)
// needs each entry's local-header offset, which libzip does not expose; a
// second parser of the central directory beside libzip's could disagree
// with it, so there is one parser, this one.
//
// What ZipArchive::open guarantees once it succeeds:
//   - one end-of-central-directory record, found where its comment length
//     says (ZIP64 records where the classic fields defer to them), the
//     central directory ending exactly where the end records begin, no
//     split archives;
//   - entry count <= ZipLimits::max_entries, every name is non-empty UTF-8
//     of at most max_name_bytes bytes, names are unique;
//   - no name is a path trick: no leading '/', no drive letter, no '\\',
//     no NUL or other control character, no empty, "." or ".." segment;
//   - every entry is stored or deflated and not encrypted; a stored entry's
//     compressed size equals its size; a deflated entry does not declare
//     more than deflate's maximum ratio (1032:1) allows;
//   - every declared size <= max_entry_bytes and their sum <= max_total_bytes;
//   - every local header agrees with its central-directory entry (name,
//     method, flags; CRC and sizes unless a data descriptor follows), and
//     the entries' bytes (local header and data) lie before the central
//     directory and do not overlap one another, so that decoding every
//     entry costs at most kMaxDeflateRatio x the archive's size.
// What reading guarantees:
//   - a read never writes more than the caller's buffer, never decodes more
//     than the entry's declared size, and allocates only bounded buffers;
//   - deflated entries are decoded as a stream that continues where the
//     previous read of that entry stopped (a few entries are kept open), so
//     reading an entry in ascending pieces decodes it once; the first read
//     before the stream's position decodes again from the start (reading
//     an entry twice costs twice), a second one decodes an entry of at most
//     kMaxCachedEntryBytes whole into memory, where it stays (one entry at
//     a time), and a larger entry again from its start: readers that read
//     an entry out of order (strided views) refuse larger compressed
//     entries, so that no file makes decoding quadratic;
//   - a read that reaches the end of an entry checks that the content has
//     exactly the declared size and, when every byte since the start was
//     seen in order (always so for deflated entries), its CRC-32.
//
// A ZipArchive is safe to read from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/byte_source.hpp"
#include "owf/error.hpp"

namespace owf::internal {

struct ZipLimits {
  std::uint64_t max_entries = 1'000'000;
  std::uint64_t max_name_bytes = 4096;
  std::uint64_t max_entry_bytes = 1ull << 40;  // declared (uncompressed) size of one entry
  std::uint64_t max_total_bytes = 1ull << 44;  // sum of declared sizes
};

struct ZipEntry {
  std::string name;                   // UTF-8
  std::uint64_t size = 0;             // declared uncompressed size
  std::uint64_t compressed_size = 0;  // bytes in the archive
  bool stored = true;                 // false: deflated
  std::uint32_t crc32 = 0;
  std::uint64_t header_offset = 0;  // local header
  std::uint64_t data_offset = 0;    // first byte of the (compressed) data
};

class ZipArchive : public std::enable_shared_from_this<ZipArchive> {
 public:
  /// Largest deflated entry that reads out of order keep decoded in memory.
  static constexpr std::uint64_t kMaxCachedEntryBytes = 64ull << 20;

  /// Opens and checks the archive (see the guarantees above). Errors are
  /// foreign_format_invalid (bad archive, path tricks, size
  /// inconsistencies, overlapping entries), foreign_format_unsupported
  /// (encryption, other compression methods, split archives),
  /// limit_exceeded, or the source's io_error.
  static Result<std::shared_ptr<const ZipArchive>> open(std::shared_ptr<const ByteSource> source,
                                                        const ZipLimits& limits = {});
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  /// Entries in central-directory (archive) order.
  const std::vector<ZipEntry>& entries() const { return entries_; }
  std::optional<std::size_t> find(std::string_view name) const;
  const ByteSource& source() const { return *source_; }

  /// The whole entry; out.size() must equal its size.
  Status read(std::size_t index, std::span<std::byte> out) const;
  /// Bytes [offset, offset + out.size()) of an entry's content.
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const;
  /// An entry's content as a ByteSource (reads go through read_range); it
  /// keeps this archive alive.
  std::shared_ptr<const ByteSource> entry_source(std::size_t index) const;

 private:
  struct Stream;
  ZipArchive() = default;
  Error entry_error(const ZipEntry& e, const std::string& what) const;
  Status read_stored(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const;
  Status read_deflated(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const;
  Stream& stream_for(std::size_t index) const;
  Status inflate_step(Stream& s, std::span<std::byte> out, std::size_t& got) const;
  Status inflate_into(Stream& s, std::span<std::byte> out) const;
  Status finish_stream(Stream& s) const;

  std::shared_ptr<const ByteSource> source_;
  std::vector<ZipEntry> entries_;
  mutable std::mutex mutex_;
  // Guarded by mutex_: decoding streams of recently read deflated entries,
  // and for stored entries how far they were read in order (with the CRC
  // of those bytes).
  mutable std::vector<std::unique_ptr<Stream>> streams_;
  mutable std::uint64_t clock_ = 0;
  struct InOrder {
    std::uint64_t position = 0;
    std::uint32_t crc = 0;
  };
  mutable std::vector<InOrder> stored_progress_;
  mutable std::vector<std::uint8_t> rewinds_;  // 1: a deflated entry was read out of order before
  mutable std::vector<std::byte> scratch_;
  mutable std::vector<std::byte> cached_;  // the whole content of entry cached_index_
  mutable std::size_t cached_index_ = SIZE_MAX;
};

/// Why `name` is not a safe archive member name, or nullopt when it is.
std::optional<std::string> zip_name_problem(std::string_view name);

}  // namespace owf::internal
