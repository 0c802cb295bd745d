// What the library itself may do with a Writer beyond its public API:
// writing a shard set (convert.cpp) needs every shard's tensors before any
// shard's manifest, which holds them all (spec/shards.md §5).
#pragma once

#include <string>
#include <vector>

#include "owf/digest.hpp"
#include "owf/shard_set.hpp"
#include "owf/writer.hpp"

namespace owf::internal {

struct WriterAccess {
  /// Waits until every tensor written has its digest (large tensors are
  /// hashed in the background) and stops the hashing threads; fails as
  /// finish() would on a digest that differs from the expected one.
  static Status settle_digests(Writer& writer);
  /// The tensors whose digests were computed from the bytes read back from
  /// the written file (after finish() or settle_digests()): a read-back
  /// check of the file need not hash them again.
  static const std::vector<std::string>& hashed_from_file(const Writer& writer);
  /// The tensors written so far, as the weights digest sees them, after
  /// settle_digests(); views valid until the writer's next tensor or finish().
  static std::vector<DigestEntry> digest_entries(const Writer& writer);
  /// Makes the file a shard (version 1.3). finish() checks R38 against the
  /// tensors written, as a reader will.
  static void set_shard_set(Writer& writer, ShardSetInfo set);
};

}  // namespace owf::internal
