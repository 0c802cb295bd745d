// Everything open() checks before it trusts a byte of a file, in one place
// (spec/format.md, "Validation"). Steps run in the order the spec lists, so
// a file with several defects reports the same first error everywhere.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "layout.hpp"
#include "manifest.hpp"
#include "owf/error.hpp"
#include "owf/reader.hpp"

namespace owf::internal {

struct ValidatedFile {
  Version version;
  Footer footer;
  DecodedManifest manifest;
  std::span<const std::byte> manifest_bytes;
  /// Holds an aligned copy of the manifest when the file's bytes were not
  /// 8-byte aligned in memory (a caller's buffer); empty otherwise.
  std::vector<std::byte> manifest_copy;
};

Result<ValidatedFile> validate_file(std::span<const std::byte> file, const Limits& limits);

/// Re-checks, on the bytes as they are now, what open checked outside the
/// tensors: the manifest digest and the data section's padding. verify()
/// runs it so that its verdict covers a mapped file changed after open.
Status recheck_unhashed_bytes(std::span<const std::byte> file, const ValidatedFile& validated, const Limits& limits);

}  // namespace owf::internal
