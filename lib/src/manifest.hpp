// The manifest: the FlatBuffers buffer describing tensors and metadata.
// manifest.cpp (and manifest_coverage.cpp, which walks the buffer from the
// schema's reflection tables) are the only files that touch the generated
// FlatBuffers types; everything else sees the plain structs below.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "layout.hpp"
#include "owf/digest.hpp"
#include "owf/error.hpp"
#include "owf/metadata.hpp"
#include "owf/reader.hpp"
#include "owf/shard_set.hpp"
#include "owf/signature.hpp"
#include "owf/tensor.hpp"

namespace owf::internal {

/// One independently decodable piece of a compressed tensor.
struct ChunkRef {
  std::uint64_t offset = 0;  // relative to the tensor's offset
  std::uint64_t stored_length = 0;
};

/// Where a compressed tensor's chunks are (empty for codec none).
struct ChunkTable {
  std::uint64_t chunk_length = 0;  // logical bytes per chunk
  std::span<const ChunkRef> chunks;
};

/// A manifest that passed the FlatBuffers verifier and every per-field
/// check (spec/format.md, "Validation", steps 5-9). Views point into the
/// manifest bytes, which must outlive this.
struct DecodedManifest {
  std::uint64_t alignment = 64;
  std::vector<std::string_view> required_features;
  std::vector<TensorInfo> tensors;       // name order
  std::vector<ChunkTable> chunk_tables;  // parallel to tensors
  std::vector<ChunkRef> chunk_storage;   // backing store for chunk tables
  ModelInfo info;
  std::vector<Signature> signatures;      // stored order (R37)
  std::optional<ShardSetInfo> shard_set;  // R38 checked
};

/// Features this reader understands (spec/versioning.md).
bool is_known_feature(std::string_view feature);

/// `bytes` must be 8-byte aligned. Tensor ranges are checked against the
/// file layout by the caller (validate.cpp); this checks the manifest alone.
/// `file_minor`: the file's minor version; a newer one than this reader's
/// may hold fields it does not know (spec/versioning.md).
Result<DecodedManifest> decode_manifest(std::span<const std::byte> bytes, const Limits& limits,
                                        std::uint16_t file_minor = kFormatMinor);

/// decode_manifest on a copy of `bytes` (which need not be aligned), for
/// its verdict alone.
Status check_manifest(std::span<const std::byte> bytes, const Limits& limits);

/// What the writer knows about a tensor it wrote.
struct TensorRecord {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::uint64_t> shape;
  Role role = Role::kOther;
  Codec codec = Codec::kNone;
  std::uint64_t offset = 0;
  std::uint64_t stored_length = 0;
  Sha256Digest sha256{};
  std::uint64_t chunk_length = 0;
  std::vector<ChunkRef> chunks;
};

struct ManifestModel {
  std::uint64_t alignment = 64;
  std::vector<std::string> required_features;  // sorted on encode
  std::vector<TensorRecord> tensors;           // sorted by name on encode
  ModelInfo info;
  std::vector<Signature> signatures;      // kept in this order; makes the file 1.2
  std::optional<ShardSetInfo> shard_set;  // makes the file 1.3
};

/// Builds a manifest tensor by tensor, as a writer learns them: each
/// tensor's table goes into the FlatBuffers buffer at once, so that what
/// the encoder holds is the manifest itself plus a few bytes a tensor, not
/// a record with its own name and shape allocations per tensor.
class ManifestEncoder {
 public:
  /// `initial_bytes`: the buffer's first size; it grows by half as needed.
  explicit ManifestEncoder(std::size_t initial_bytes = 256u << 10);
  ~ManifestEncoder();
  ManifestEncoder(ManifestEncoder&&) noexcept;
  ManifestEncoder& operator=(ManifestEncoder&&) noexcept;

  /// Adds a tensor's table; tensors may come in any order (finish() sorts
  /// them) but the caller checks that names are unique (contains()).
  /// limit_exceeded when the manifest would pass FlatBuffers' 2 GiB.
  Status add_tensor(const TensorRecord& tensor);
  /// Replaces the digest of the tensor added `position`-th (from 0): a
  /// writer adds a large tensor before its digest is known.
  void set_digest(std::size_t position, const Sha256Digest& digest);
  bool contains(std::string_view name) const;
  /// The tensors added so far as the weights digest sees them, in the
  /// order added; views into the buffer, valid until the next add_tensor()
  /// or finish().
  std::vector<DigestEntry> digest_entries() const;
  std::size_t tensor_count() const;
  /// Encodes everything else (`rest.tensors` must be empty) and returns the
  /// manifest, valid while the encoder lives. The bytes depend on the order
  /// in which tensors were added.
  Result<std::span<const std::byte>> finish(ManifestModel rest);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Serializes deterministically: equal models give equal bytes (tensors
/// are added to a ManifestEncoder in name order).
Result<std::vector<std::byte>> encode_manifest(ManifestModel model);

/// The reader's rules on model information (format.md §4.4-4.7, R24-R28),
/// for what a writer is about to write: `info` is encoded as a manifest
/// without tensors and decoded as a reader with default limits decodes it,
/// so that no file the writer writes is refused for its information. A
/// missing license is not an error here (the writer checks it at finish).
Status check_info(ModelInfo info);

}  // namespace owf::internal
