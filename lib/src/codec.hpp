// Storage codecs (spec/compression.md): validation of a compressed tensor's
// chunk table at open, and decoding of its logical bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "manifest.hpp"
#include "owf/error.hpp"
#include "owf/reader.hpp"
#include "owf/tensor.hpp"

namespace owf::internal {

/// Open-time checks of a compressed tensor's chunk table against its
/// logical size, its stored range and the limits. No data is read.
Status check_chunk_table(const TensorInfo& tensor, const ChunkTable& table, const Limits& limits);

/// Decodes logical bytes [offset, offset + out.size()) of a compressed
/// tensor whose stored bytes are `stored`. Never trusts sizes found inside
/// the compressed frames.
Status decode_range(const TensorInfo& tensor, const ChunkTable& table, std::span<const std::byte> stored,
                    std::uint64_t offset, std::span<std::byte> out, unsigned threads);

}  // namespace owf::internal
