// The weights digest (spec/format.md §7): one SHA-256 that identifies the
// tensors of a model (names, dtypes, shapes, bytes) independently of file
// format, layout, compression and metadata.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "owf/dtype.hpp"
#include "owf/error.hpp"
#include "owf/metadata.hpp"

namespace owf {

class Source;

/// One tensor's part of the weights digest.
struct DigestEntry {
  std::string_view name;
  DType dtype;
  std::span<const std::uint64_t> shape;
  Sha256Digest sha256;
};
/// The weights digest over these entries; they need not be sorted.
OWF_API Sha256Digest weights_digest_of(std::vector<DigestEntry> entries);

struct DigestOptions {
  unsigned threads = 0;  // 0: one per core
  /// Sources that store digests (OWF): check every tensor's bytes against
  /// them first (File::verify), so that a corrupt file is an error rather
  /// than a digest computed from what it claims.
  bool check_stored = false;
  /// Called with bytes done and total, from worker threads, serialized.
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

struct Digests {
  std::vector<Sha256Digest> tensors;  // in the source's tensor order
  Sha256Digest weights{};
};

/// The SHA-256 of every tensor (stored ones for OWF, else computed by
/// reading each tensor in bounded pieces, in parallel) and the weights
/// digest over them.
OWF_API Result<Digests> compute_digests(const Source& source, const DigestOptions& options = {});

/// The weights digest alone (compute_digests(source).weights).
OWF_API Result<Sha256Digest> compute_weights_digest(const Source& source, unsigned threads = 0);

}  // namespace owf
