// What the library itself may do with a Writer beyond its public API:
// writing a shard set (convert.cpp) needs every shard's tensors before any
// shard's manifest, which holds them all (spec/shards.md §5).
#pragma once

#include <vector>

#include "owf/digest.hpp"
#include "owf/shard_set.hpp"
#include "owf/writer.hpp"

namespace owf::internal {

struct WriterAccess {
  /// The tensors written so far, as the weights digest sees them; views
  /// valid until the writer's next tensor or finish().
  static std::vector<DigestEntry> digest_entries(const Writer& writer);
  /// Makes the file a shard (version 1.3). finish() checks R38 against the
  /// tensors written, as a reader will.
  static void set_shard_set(Writer& writer, ShardSetInfo set);
};

}  // namespace owf::internal
