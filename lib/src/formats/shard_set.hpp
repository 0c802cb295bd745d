// Foreign shard sets read as one Source: a Hugging Face index
// (`model.safetensors.index.json`, `pytorch_model.bin.index.json`: a JSON
// object whose "weight_map" names the shard file of every tensor) and its
// shards, which lie in the index's directory (spec/interchange.md,
// "Shard sets"); and the index's text for a set being written.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

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

}  // namespace owf::internal
