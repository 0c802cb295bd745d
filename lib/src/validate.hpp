// Everything open() checks before it trusts a byte of a file, in one place
// (spec/format.md, "Validation"). Steps run in the order the spec lists, so
// a file with several defects reports the same first error everywhere.
// Every byte is read through the ByteSource (never from a mapping), so a
// file that shrinks while it is checked is an io_error, not a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "io/byte_source.hpp"
#include "layout.hpp"
#include "manifest.hpp"
#include "owf/error.hpp"
#include "owf/reader.hpp"

namespace owf::internal {

struct ValidatedFile {
  Version version;
  Footer footer;
  /// The manifest as read from the file, 8-byte aligned (FlatBuffers reads
  /// its 64-bit scalars in place); `manifest` points into it.
  std::vector<std::uint64_t> manifest_storage;
  std::span<const std::byte> manifest_bytes;
  DecodedManifest manifest;
};

/// For a remote source, the padding between tensors is not read (each gap
/// would cost a request): recheck_unhashed_bytes(), which verify runs,
/// reads it.
Result<ValidatedFile> validate_file(const ByteSource& source, const Limits& limits);

/// Re-checks, on the bytes as they are now, what open checked outside the
/// tensors: the manifest digest and the data section's padding. verify()
/// runs it so that its verdict covers a file changed after open.
Status recheck_unhashed_bytes(const ByteSource& source, const ValidatedFile& validated, const Limits& limits);

}  // namespace owf::internal
