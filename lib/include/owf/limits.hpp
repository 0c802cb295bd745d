// Reader limits: how much a file may ask of a reader. Files beyond any of
// them are refused with limit_exceeded before anything is allocated from
// their sizes (spec/format.md §9).
#pragma once

#include <cstdint>

namespace owf {

struct Limits {
  std::uint64_t max_manifest_bytes = 1ull << 30;  // FlatBuffers itself stops below 2 GiB
  std::uint64_t max_tensors = 1'000'000;
  std::uint32_t max_rank = 64;
  std::uint32_t max_name_bytes = 4096;
  std::uint64_t max_metadata_entries = 1'000'000;  // hyperparameters + metadata pairs
  std::uint64_t max_string_bytes = 64ull << 20;    // any single metadata string
  std::uint64_t max_alignment = 1ull << 21;        // the format maximum (2 MiB)
  std::uint64_t max_chunk_bytes = 64ull << 20;     // compressed storage: decoded chunk size
  std::uint32_t max_signatures = 64;               // entries of Manifest.signatures (spec/signatures.md)
  std::uint32_t max_shards = 100'000;              // entries of Manifest.shard_set.shards (spec/shards.md)
};

}  // namespace owf
