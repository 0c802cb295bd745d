// Foreign shard sets read as one Source: a Hugging Face index
// (`model.safetensors.index.json`, `pytorch_model.bin.index.json`: a JSON
// object whose "weight_map" names the shard file of every tensor) and its
// shards, which lie in the index's directory (spec/interchange.md,
// "Shard sets"); the union Source both it and GGUF split sets
// (formats/gguf/gguf_split.hpp) are read as; and the index's text for a set
// being written.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "owf/source.hpp"

namespace owf::internal {

/// The index file `path` stands for: `path` itself when its name ends in
/// ".index.json", the one such file inside `path` when it is a directory;
/// nullopt otherwise (a directory without one may hold an OWF shard set).
/// A directory holding several indexes is an error naming them.
Result<std::optional<std::filesystem::path>> find_shard_index(const std::filesystem::path& path);

/// The format of the shards the index names (from the first shard's name).
Result<Format> shard_set_format(const std::filesystem::path& index);

/// Opens the index and every shard it names (their headers only), checks
/// that the index and the shards agree tensor for tensor, and returns the
/// union of the shards' tensors, sorted by name. `format`, when given, must
/// be the shards' format.
Result<std::unique_ptr<Source>> open_shard_set(const std::filesystem::path& index, std::optional<Format> format,
                                               const Limits& limits);

/// The text of a Hugging Face index, as transformers writes it
/// (json.dumps(index, indent=2, sort_keys=True) + "\n"): {"metadata":
/// {"total_size": N}, "weight_map": {tensor: shard file name, ...}}, keys in
/// byte order, non-ASCII escaped as \uXXXX. bad_utf8 when a name is not
/// UTF-8.
Result<std::string> shard_index_json(const std::map<std::string, std::string>& weight_map, std::uint64_t total_size);

/// The most shards (or GGUF splits) a set may have.
inline constexpr std::size_t kMaxShards = 100'000;

/// One member of a set: its name for messages and its opened Source.
struct ShardMember {
  std::string name;
  std::unique_ptr<Source> source;
};

/// What a set is made of, beyond its members.
struct ShardUnion {
  std::string where;  // the set, for messages: the index, or the split the caller opened
  std::string noun;   // what a member is called in messages: "shard", "split"
  Format format = Format::kOwf;
  /// The set's model information; nullopt: the first member's.
  std::optional<ModelInfo> info;
  std::vector<std::string> notes;
  std::vector<std::filesystem::path> files;  // Source::files()
};

/// The union of the members' tensors, sorted by name (the members' headers
/// were read; no tensor data is). Refuses, naming `where` and the members,
/// a tensor held by two members (foreign_format_invalid) and more than
/// limits.max_tensors tensors in all (limit_exceeded). The set's alignment
/// is the first member's. Shared by Hugging Face shard sets and GGUF splits.
Result<std::unique_ptr<Source>> union_of_shards(std::vector<ShardMember> members, ShardUnion set, const Limits& limits);

}  // namespace owf::internal
