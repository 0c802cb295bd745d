// Where every reader gets its bytes: a sized, random-access, read-only byte
// source. OWF and every foreign format read through this interface only, so
// a new kind of source (a remote file read with HTTP range requests) works
// with every format reader unchanged.
//
// When bytes are mapped and when they are read (spec/security.md, "Reading
// and mapping"): parsing, reading into caller buffers, verification and
// conversion all go through read_at(), which reports a file that shrank as
// an io_error. Only the zero-copy views of File::bytes()/view() look at the
// mapping, and only after the caller asked for them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "owf/error.hpp"

namespace owf::internal {

class ByteSource {
 public:
  virtual ~ByteSource() = default;

  /// Size in bytes, fixed when the source was opened.
  virtual std::uint64_t size() const = 0;
  /// The path or URL, for messages.
  virtual const std::string& name() const = 0;
  /// Reads exactly out.size() bytes at `offset`. Errors (io_error) name the
  /// source, the offset and the cause; a source that became shorter than
  /// size() is such an error, never a signal. Precondition: the range lies
  /// inside [0, size()). Safe to call from several threads at once.
  virtual Status read_at(std::uint64_t offset, std::span<std::byte> out) const = 0;
  /// The whole source as memory, where it is a mapped local file or a
  /// buffer; empty otherwise. Mapped bytes are not protected against the
  /// file shrinking: only zero-copy views may use them.
  virtual std::span<const std::byte> mapping() const { return {}; }
  /// Whether the mapping may be written (a copy-on-write mapping).
  virtual bool mapping_writable() const { return false; }
  /// True for sources that are memory (buffers): reading their mapping()
  /// is then as safe as read_at() and costs no copy.
  virtual bool in_memory() const { return false; }
  /// True when every read_at() costs a round trip (a remote source): callers
  /// then prefer few large reads.
  virtual bool remote() const { return false; }
  /// Hint: [offset, offset + length) will be read soon, in order.
  virtual void will_read(std::uint64_t /*offset*/, std::uint64_t /*length*/) const {}
};

struct FileSourceOptions {
  /// Map the file for zero-copy views (ByteSource::mapping()): read-only
  /// and shared, or, with copy_on_write, private and writable.
  bool map = false;
  /// Views may be written: the mapping is MAP_PRIVATE with PROT_WRITE, so a
  /// write changes only this process's copy of a page, never the file.
  /// Falls back to read-only when the system refuses (strict overcommit).
  bool copy_on_write = false;
};

/// Opens a local regular file. Refuses directories, devices, FIFOs and
/// sockets (io_error naming the kind), reports missing files and denied
/// permissions with the system's reason.
Result<std::shared_ptr<const ByteSource>> open_file_source(const std::filesystem::path& path,
                                                           const FileSourceOptions& options = {});

/// A caller's buffer, borrowed: it must outlive the source and not change.
std::shared_ptr<const ByteSource> buffer_source(std::span<const std::byte> bytes, std::string name);

/// A buffer owned by the source (for members decompressed from archives).
std::shared_ptr<const ByteSource> owned_buffer_source(std::vector<std::byte> bytes, std::string name);

/// Bytes [offset, offset + length) of a source; fails (truncated) when the
/// range is not inside the source, so that nothing is allocated for a
/// length the source does not have.
Result<std::vector<std::byte>> read_range_checked(const ByteSource& source, std::uint64_t offset, std::uint64_t length,
                                                  std::string_view what);

/// "a directory", "a character device", ... for a stat() mode that is not a
/// regular file.
std::string_view file_type_name(unsigned mode);

/// "path: what: <strerror(errno)>" as an io_error.
Error system_error(std::string_view name, std::string_view what, int errno_value);

}  // namespace owf::internal
