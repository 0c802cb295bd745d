// What the rest of the library may see of an open OWF file beyond the
// public API: the byte source it reads and the validated manifest.
#pragma once

#include <memory>
#include <span>

#include "io/byte_source.hpp"
#include "owf/reader.hpp"
#include "validate.hpp"

namespace owf::internal {

struct FileAccess {
  /// Validates the OWF file in `source` (spec/format.md §8) and opens it.
  static Result<File> open(std::shared_ptr<const ByteSource> source, const Limits& limits);
  static const ByteSource& source(const File& file);
  static const ValidatedFile& validated(const File& file);
  /// File::verify, leaving out the tensors marked in `already_hashed`
  /// (parallel to the tensors; empty: none), whose digests the caller
  /// computed from these very bytes: a writer that hashed them as it read
  /// them back from the file it wrote.
  static Status verify(const File& file, const VerifyOptions& options, std::span<const bool> already_hashed);
};

/// The error of a tensor whose bytes do not hash to its manifest digest;
/// one wording for every path that checks one (read, verify, load).
Error tensor_digest_mismatch(const TensorInfo& tensor);

}  // namespace owf::internal
