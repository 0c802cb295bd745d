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

}  // namespace owf::internal
