// OWF shard sets opened as one Source (spec/shards.md §4).
#pragma once

#include <filesystem>
#include <memory>

#include "owf/source.hpp"

namespace owf::internal {

/// The set of any of its shards, or of a directory holding one set, with
/// every shard open and the whole set checked (S1-S6): the union of the
/// shards' tensors in name order.
Result<std::unique_ptr<Source>> open_owf_shard_set(const std::filesystem::path& shard_or_directory,
                                                   const Limits& limits);

/// Where shard `file_name` of a set in `directory` is: `directory/file_name`,
/// or for a remote set (a URL), the URL of the name with every byte but
/// A-Z a-z 0-9 - . _ ~ percent-encoded, so that a name is never read as a
/// query ('?'), fragment ('#'), escape ('%', "%2e%2e") or anything else.
std::filesystem::path shard_location(const std::filesystem::path& directory, const std::string& file_name);

}  // namespace owf::internal
