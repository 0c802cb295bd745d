// Shard sets (spec/shards.md): a model stored as several OWF files, each a
// valid file holding a name range of the tensors and describing the whole
// set, so that any one shard finds and checks the others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "owf/error.hpp"
#include "owf/reader.hpp"

namespace owf {

/// One shard as every shard of its set describes it.
struct ShardEntry {
  std::string file_name;  // plain file name in the set's directory
  std::uint64_t tensor_count = 0;
  std::string first_tensor;  // the shard's first tensor name
  Sha256Digest weights_digest{};
  bool operator==(const ShardEntry&) const = default;
};

/// Manifest.shard_set of one shard.
struct ShardSetInfo {
  Sha256Digest weights_digest{};  // of the union of all shards' tensors
  std::uint32_t index = 0;        // this file's position in `shards`
  std::vector<ShardEntry> shards;
  bool operator==(const ShardSetInfo&) const = default;
};

/// Where a tensor of a set lies.
struct ShardLocation {
  std::size_t shard = 0;
  std::size_t tensor = 0;  // index within the shard's File
};

/// An open shard set. Shards are opened when first needed (a tensor of
/// theirs is asked for), each checked against the set as it opens (S2-S4
/// of spec/shards.md); verify() opens and checks them all. Thread-safe.
class OWF_API FileSet {
 public:
  /// Opens the set from any of its shards, or from a directory holding
  /// one set (spec/shards.md §4). A file that is not a shard is an error
  /// (shard_set_mismatch); use File::open for it.
  static Result<FileSet> open(const std::filesystem::path& shard_or_directory, const OpenOptions& options = {});

  FileSet(FileSet&&) noexcept;
  FileSet& operator=(FileSet&&) noexcept;
  ~FileSet();

  std::size_t shard_count() const;
  /// Precondition (as for File::tensor): index < shard_count().
  const ShardEntry& shard(std::size_t index) const;
  std::filesystem::path shard_path(std::size_t index) const;
  /// The shard's File, opened and checked against the set on first use.
  Result<const File*> shard_file(std::size_t index) const;
  /// Opens every shard not yet open and checks the set's weights digest
  /// over all of them (S5). Opening reads manifests, not tensor data.
  Status open_all() const;

  /// Tensors of all shards together, in name order.
  std::uint64_t tensor_count() const;
  /// The tensor at position `index` of the name-ordered union (opens its shard).
  Result<ShardLocation> locate(std::uint64_t index) const;
  /// By name: only the one shard whose range holds it is opened. nullopt
  /// when no shard holds it.
  Result<std::optional<ShardLocation>> find(std::string_view name) const;

  /// The set's weights digest, as the shards store it (checked by open_all
  /// and verify).
  Sha256Digest weights_digest() const;
  /// The set's model information (equal in every shard, S4).
  const ModelInfo& info() const;

  /// Checks the whole set (S1-S6), then every tensor of every shard
  /// (File::verify), shards in parallel.
  Status verify(const VerifyOptions& options = {}) const;

  struct Impl;

 private:
  explicit FileSet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace owf
